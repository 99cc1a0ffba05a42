//! A child process inside its own Job object.
#![allow(unsafe_code)] // Job objects and thread resumption through windows-sys.

use std::io;
use std::os::windows::io::AsRawHandle as _;
use std::os::windows::process::CommandExt as _;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::sync::Arc;
use std::time::Duration;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    OpenThread, ResumeThread, WaitForSingleObject, CREATE_NO_WINDOW, CREATE_SUSPENDED,
    THREAD_SUSPEND_RESUME,
};

/// The exit code every process of a terminated Job gets: what `system.run` reports after a
/// timeout on Linux too (see `exec::reported_exit_code`).
const TERMINATED_EXIT_CODE: u32 = super::super::TIMEOUT_EXIT_CODE as u32;

/// A Job object; closing it kills whatever is still in it.
pub(super) struct Job(HANDLE);

// SAFETY: a Job handle may be used from any thread; the Win32 calls on it are thread-safe.
unsafe impl Send for Job {}
// SAFETY: as above; `&Job` only passes the handle to thread-safe calls.
unsafe impl Sync for Job {}

impl Job {
    fn new() -> io::Result<Job> {
        // SAFETY: null attributes and name are allowed; a null handle means failure.
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let job = Job(handle);
        // SAFETY: all-zero is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: the pointer and size describe `limits`, which outlives the call.
        let ok = unsafe {
            SetInformationJobObject(
                job.0,
                JobObjectExtendedLimitInformation,
                (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(job)
    }

    /// Ends every process in the Job. False when the call failed.
    pub(super) fn terminate(&self) -> bool {
        // SAFETY: the handle is open while `self` lives.
        unsafe { TerminateJobObject(self.0, TERMINATED_EXIT_CODE) != 0 }
    }

    /// How many processes are still in the Job (`IsProcessInJob` is a stub under Wine; the
    /// accounting counters are not).
    pub(super) fn active_processes(&self) -> u32 {
        // SAFETY: all-zero is a valid JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.
        let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer and size describe `info`; the handle is open.
        let ok = unsafe {
            QueryInformationJobObject(
                self.0,
                JobObjectBasicAccountingInformation,
                (&mut info as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            0
        } else {
            info.ActiveProcesses
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: closed once; KILL_ON_JOB_CLOSE then ends what is left in it.
        unsafe { CloseHandle(self.0) };
    }
}

/// A child of the node and its Job: the one owner of a spawned process tree on Windows, as the
/// process group is on Unix. Dropping it unreaped terminates the Job.
pub struct ProcessGroup {
    child: Child,
    job: Arc<Job>,
    reaped: Option<ExitStatus>,
}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("pid", &self.id())
            .field("reaped", &self.reaped)
            .finish()
    }
}

impl ProcessGroup {
    /// Spawns `command` suspended, puts it in a new Job, then lets it run: everything it starts
    /// is in the Job from its first instruction. No console window (libuv's `windowsHide`).
    pub fn spawn(command: &mut Command) -> io::Result<ProcessGroup> {
        let job = Job::new()?;
        command.creation_flags(CREATE_SUSPENDED | CREATE_NO_WINDOW);
        let mut child = command.spawn()?;
        // SAFETY: both handles are open.
        let assigned =
            unsafe { AssignProcessToJobObject(job.0, child.as_raw_handle() as HANDLE) } != 0;
        if !assigned {
            let err = io::Error::last_os_error();
            let _ = child.kill();
            let _ = child.wait();
            return Err(err);
        }
        if let Err(err) = resume_threads(child.id()) {
            job.terminate();
            let _ = child.wait();
            return Err(err);
        }
        Ok(ProcessGroup {
            child,
            job: Arc::new(job),
            reaped: None,
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// The child's stdin pipe, when it was piped and not taken yet (a peer the node talks
    /// to over stdio: an MCP server).
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// Closes the child's stdin pipe: a reader sees EOF at once.
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// The Job, for a supervisor that waits on another thread.
    pub(super) fn job(&self) -> Arc<Job> {
        Arc::clone(&self.job)
    }

    /// The child itself, for a supervisor that waits for it on another thread; the Job stays
    /// with the caller.
    pub(super) fn into_parts(self) -> (Child, Arc<Job>) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so each field is moved out exactly once.
        unsafe { (std::ptr::read(&this.child), std::ptr::read(&this.job)) }
    }

    /// The child's status when it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.reaped {
            return Ok(Some(status));
        }
        let status = self.child.try_wait()?;
        self.reaped = status;
        Ok(status)
    }

    /// Waits up to `timeout` for the child to exit; true when it has.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        if self.reaped.is_some() {
            return true;
        }
        let millis = timeout.as_millis().min(u128::from(u32::MAX - 1)) as u32;
        // SAFETY: the process handle is open while `self.child` lives.
        let waited = unsafe { WaitForSingleObject(self.child.as_raw_handle() as HANDLE, millis) };
        waited == WAIT_OBJECT_0 && matches!(self.try_wait(), Ok(Some(_)))
    }

    /// Ends the whole tree. Windows has no SIGTERM for windowless console processes (the TS
    /// host's `taskkill` without `/F` cannot end them either), so `grace` only bounds the wait
    /// for the child's exit afterwards.
    pub fn terminate(&mut self, grace: Duration) {
        self.job.terminate();
        self.wait_timeout(grace.max(Duration::from_millis(100)));
    }

    /// Ends the whole tree and reaps the child.
    pub fn kill(&mut self) {
        self.job.terminate();
        if let Ok(status) = self.child.wait() {
            self.reaped = Some(status);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            self.kill();
        }
    }
}

/// Resumes every thread of the (suspended) process `pid`. std keeps the primary thread's
/// handle to itself, so the threads are found through a Toolhelp snapshot.
fn resume_threads(pid: u32) -> io::Result<()> {
    // SAFETY: plain values; INVALID_HANDLE_VALUE means failure.
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if snapshot == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: all-zero is a valid THREADENTRY32 once dwSize is set.
    let mut entry: THREADENTRY32 = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
    let mut resumed = 0;
    // SAFETY: `snapshot` is open; `entry` is a valid, sized out struct.
    let mut more = unsafe { Thread32First(snapshot, &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: plain values; a null handle means failure.
            let thread = unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID) };
            if !thread.is_null() {
                // SAFETY: `thread` is open; closed once.
                unsafe {
                    ResumeThread(thread);
                    CloseHandle(thread);
                }
                resumed += 1;
            }
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot, &mut entry) } != 0;
    }
    // SAFETY: closed once.
    unsafe { CloseHandle(snapshot) };
    if resumed == 0 {
        return Err(io::Error::other("cannot resume the new process's thread"));
    }
    Ok(())
}
