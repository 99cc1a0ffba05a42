//! `node.host.stats`: load, memory and disk of this host, as TS's `sampleNodeHostStats` reports
//! them (protocol.md §8.2, node-surface.md §4), read from `/proc` and `statfs` without spawning
//! anything.
//!
//! - `cpuCount`: the `cpuN` lines of `/proc/stat` (what Node's `os.cpus()` counts), 1..4096.
//! - `loadAverage`: `/proc/loadavg`, each 0..100000, omitted when all three are 0.
//! - `memoryTotalBytes`: `MemTotal`; `memoryFreeBytes`: `MemAvailable` (libuv's `freemem`),
//!   at most the total.
//! - `diskTotalBytes`/`diskAvailableBytes`: `statfs` of `$HOME`, or its nearest existing
//!   ancestor; `f_bsize` times `f_blocks`/`f_bavail`, available at most total; both omitted
//!   when `statfs` fails.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One sample, serialised in TS's key order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostStats {
    pub cpu_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_average: Option<[f64; 3]>,
    pub memory_total_bytes: u64,
    pub memory_free_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_total_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_available_bytes: Option<u64>,
}

const MAX_LOAD: f64 = 100_000.0;

impl HostStats {
    /// Samples this host; `None` where `/proc` is not there to read (not Linux).
    pub fn sample(home: &Path) -> Option<HostStats> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let disk = disk_space(home);
        Some(HostStats::from_sources(&stat, &meminfo, &loadavg, disk))
    }

    /// The sample from the texts of `/proc/stat`, `/proc/meminfo`, `/proc/loadavg` and the
    /// `(total, available)` bytes of the home volume, with TS's clamps.
    pub fn from_sources(
        stat: &str,
        meminfo: &str,
        loadavg: &str,
        disk: Option<(u64, u64)>,
    ) -> HostStats {
        let cpus = stat
            .lines()
            .filter(|line| {
                line.strip_prefix("cpu")
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        let cpu_count = u32::try_from(cpus).unwrap_or(u32::MAX).clamp(1, 4096);
        let kib = |key: &str| {
            meminfo.lines().find_map(|line| {
                let value = line.strip_prefix(key)?.strip_prefix(':')?;
                value
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
                    .map(|kib| kib.saturating_mul(1024))
            })
        };
        let memory_total_bytes = kib("MemTotal").unwrap_or(0);
        let memory_free_bytes = kib("MemAvailable")
            .or_else(|| kib("MemFree"))
            .unwrap_or(0)
            .min(memory_total_bytes);
        let mut loads = [0.0f64; 3];
        for (slot, field) in loads.iter_mut().zip(loadavg.split_whitespace()) {
            *slot = field
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map_or(0.0, |v| v.clamp(0.0, MAX_LOAD));
        }
        let load_average = loads.iter().any(|&load| load != 0.0).then_some(loads);
        let (disk_total_bytes, disk_available_bytes) = match disk {
            Some((total, available)) => (Some(total), Some(available.min(total))),
            None => (None, None),
        };
        HostStats {
            cpu_count,
            load_average,
            memory_total_bytes,
            memory_free_bytes,
            disk_total_bytes,
            disk_available_bytes,
        }
    }

    /// The `node.event` params: `{"event":"node.host.stats","payloadJSON":"<the sample>"}`.
    pub fn event_params(&self) -> String {
        let payload = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        serde_json::json!({"event": "node.host.stats", "payloadJSON": payload}).to_string()
    }
}

/// `(total, available)` bytes of the volume holding `path` or its nearest existing ancestor.
#[cfg(target_os = "linux")]
// The statfs field types differ between targets (u64 here, u32 on some 32-bit ones).
#[allow(clippy::useless_conversion)]
fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let checked = nearest_existing_dir(path)?;
    let stats = rustix::fs::statfs(&checked).ok()?;
    let block = u64::try_from(stats.f_bsize).ok()?;
    let total = block.checked_mul(u64::try_from(stats.f_blocks).ok()?)?;
    let available = block.checked_mul(u64::try_from(stats.f_bavail).ok()?)?;
    Some((total, available))
}

#[cfg(not(target_os = "linux"))]
fn disk_space(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// TS's `findExistingDiskSpacePath`: the path if it is a directory, the parent of an existing
/// file, else the nearest existing ancestor.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // used by the statvfs path only
fn nearest_existing_dir(path: &Path) -> Option<PathBuf> {
    let mut current = std::path::absolute(path).ok()?;
    loop {
        match std::fs::metadata(&current) {
            Ok(meta) if meta.is_dir() => return Some(current),
            Ok(_) => return current.parent().map(Path::to_path_buf),
            Err(_) => {
                if !current.pop() {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu1 1 2 3 4\nintr 5\nctxt 6\n";
    const MEMINFO: &str = "MemTotal:       24724004 kB\nMemFree:         1000000 kB\nMemAvailable:   21100000 kB\n";

    #[test]
    fn a_sample_has_ts_fields_clamps_and_key_order() {
        let stats = HostStats::from_sources(
            STAT,
            MEMINFO,
            "3.87 4.55 2.35 2/345 6789\n",
            Some((1000, 2000)),
        );
        assert_eq!(
            serde_json::to_string(&stats).unwrap(),
            r#"{"cpuCount":2,"loadAverage":[3.87,4.55,2.35],"memoryTotalBytes":25317380096,"memoryFreeBytes":21606400000,"diskTotalBytes":1000,"diskAvailableBytes":1000}"#
        );
        assert_eq!(
            stats.event_params(),
            serde_json::json!({"event":"node.host.stats","payloadJSON":serde_json::to_string(&stats).unwrap()}).to_string()
        );
    }

    #[test]
    fn zero_load_and_failed_statfs_are_omitted_and_values_clamped() {
        let stats = HostStats::from_sources(
            "cpu 1\n",
            "MemTotal: 100 kB\nMemAvailable: 200 kB\n",
            "0.00 0.00 0.00 1/1 1\n",
            None,
        );
        assert_eq!(
            serde_json::to_string(&stats).unwrap(),
            r#"{"cpuCount":1,"memoryTotalBytes":102400,"memoryFreeBytes":102400}"#
        );
        let huge = HostStats::from_sources(STAT, MEMINFO, "1e9 -3 nan", None);
        assert_eq!(huge.load_average, Some([100_000.0, 0.0, 0.0]));
    }

    #[test]
    fn a_missing_home_is_measured_at_its_nearest_existing_ancestor() {
        let dir = std::env::temp_dir();
        let missing = dir.join("ocn-host-stats-missing/deeper/still");
        assert_eq!(nearest_existing_dir(&missing), nearest_existing_dir(&dir));
        #[cfg(target_os = "linux")]
        {
            let stats = HostStats::sample(&missing).expect("/proc is readable on Linux");
            assert!(stats.memory_total_bytes > 0);
            assert!(stats.memory_free_bytes <= stats.memory_total_bytes);
            let (total, available) = (stats.disk_total_bytes, stats.disk_available_bytes);
            assert!(total.is_some() && available <= total, "{stats:?}");
        }
    }
}
