// scripts/compare-driver.mjs — the measuring half of scripts/compare.sh (run by it; not on its own).
//
// It starts a real OpenClaw gateway on loopback, connects to it as an operator (one WebSocket, the
// CLI's device identity, token auth), starts the node hosts under test against it, approves their
// command surface, and then makes the gateway call them through the RPC `node.invoke`, exactly as an
// agent's tool call reaches a node. Every figure is taken for each host in the same run, the hosts
// alternating round by round (A B A B ...), so that drift on a shared machine hits both alike.
//
// Input: the environment variables set by compare.sh (COMPARE_*). Output: a table on stdout, the raw
// numbers as JSON in $COMPARE_DIR/results.json, progress on stderr.
import { spawn } from "node:child_process";
import { randomFillSync, randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";

const OC_PKG = env("COMPARE_OC_PKG");
const NODE_BIN_DIR = env("COMPARE_NODE_BIN_DIR");
const DIR = env("COMPARE_DIR");
const ROUNDS = Number(env("COMPARE_ROUNDS"));
const SAMPLES = Number(env("COMPARE_SAMPLES"));
const RUNS = Number(env("COMPARE_RUNS"));
const IDLE_S = Number(env("COMPARE_IDLE_S"));
const BIG = env("COMPARE_BIG") === "1";
const FILES = process.env.COMPARE_FILES === "1";
const FILE_SIZES = [["1 MiB", 1 << 20], ["16 MiB", 16 << 20]];
const HOSTS = JSON.parse(env("COMPARE_HOSTS")); // [{label, name, cmd: [...]}]
const DIST = path.join(OC_PKG, "dist");
const TICK_NS = 1e9 / 100; // USER_HZ: the unit of utime/stime in /proc/<pid>/stat
const DEPTHS = [1, 4, 16];

function env(name) {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`${name} is not set (run scripts/compare.sh, not this file)`);
  return v;
}
const say = (text) => process.stderr.write(`compare: ${text}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---- processes we start: each leads its own process group, killed on exit ----------------------
const groups = new Set();
function start(cmd, args, { home, log, extraEnv = {} }) {
  fs.mkdirSync(home, { recursive: true });
  const out = fs.openSync(log, "a");
  const child = spawn(cmd, args, {
    cwd: home,
    detached: true,
    stdio: ["ignore", out, out],
    env: {
      PATH: `${NODE_BIN_DIR}:${path.join(OC_PKG, "..", ".bin")}:${process.env.PATH}`,
      HOME: home,
      OPENCLAW_NO_AUTO_UPDATE: "1",
      RUST_LOG: process.env.COMPARE_RUST_LOG ?? "info",
      ...extraEnv,
    },
  });
  fs.closeSync(out);
  groups.add(child.pid);
  child.exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  child.exited.then(() => groups.delete(child.pid));
  return child;
}
async function stop(child, graceMs = 10000) {
  if (!groups.has(child.pid)) return;
  try { process.kill(-child.pid, "SIGTERM"); } catch {}
  const done = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) { try { process.kill(-child.pid, "SIGKILL"); } catch {} await child.exited; }
  try { process.kill(-child.pid, "SIGKILL"); } catch {} // stragglers in the group
}
function killAll() { for (const pid of groups) { try { process.kill(-pid, "SIGKILL"); } catch {} } }
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { say(`${sig}; stopping everything`); process.exit(130); });

// ---- /proc: the process tree of a host (the TS host may re-exec itself) --------------------------
function procTree(root) {
  const kids = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [], todo = [root];
  while (todo.length) { const p = todo.pop(); if (fs.existsSync(`/proc/${p}`)) out.push(p); todo.push(...(kids.get(p) ?? [])); }
  return out;
}
function statusKiB(pid, key) {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(key));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch { return 0; }
}
// Resident memory of the host's processes, leaving out commands it runs (they are not the host).
function hostPids(root) { return procTree(root).filter((p) => p === root || !/^(true|head)$/.test(comm(p))); }
function comm(pid) { try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; } }
const rssKiB = (root) => hostPids(root).reduce((a, p) => a + statusKiB(p, "VmRSS:"), 0);
const hwmKiB = (root) => hostPids(root).reduce((a, p) => a + statusKiB(p, "VmHWM:"), 0);
// CPU time of the host's processes: ns on the CPU (schedstat, every thread) and utime+stime ticks.
// childTicks: cutime+cstime, the commands it ran and reaped.
function cpu(root) {
  let ns = 0, ticks = 0, childTicks = 0;
  for (const p of hostPids(root)) {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // fields 14, 15
      childTicks += Number(f[13]) + Number(f[14]); // fields 16, 17
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        ns += Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      }
    } catch {}
  }
  return { ns, ticks, childTicks };
}

// ---- the gateway ---------------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
async function startGateway() {
  const port = await freePort();
  const token = randomUUID().replaceAll("-", "");
  const home = path.join(DIR, "gateway");
  fs.mkdirSync(path.join(home, ".openclaw"), { recursive: true });
  // With --files: the file commands allowed and a read policy on the fixture directory (README "File transfer").
  const files = FILES ? `
    nodes: { commands: { allow: ["file.fetch", "file.stat", "dir.list", "dir.fetch", "file.write"] } },` : "";
  const plugins = FILES ? `
  plugins: { entries: { "file-transfer": { config: { policyVersion: 2,
    nodes: { "*": { ask: "off", allowReadPaths: ["${path.join(DIR, "files")}/**"], followSymlinks: false } } } } } },` : "";
  fs.writeFileSync(path.join(home, ".openclaw", "openclaw.json"), `{
  gateway: { mode: "local", bind: "loopback", port: ${port}, auth: { mode: "token", token: "${token}" },${files} },
  logging: { file: "${path.join(DIR, "gateway-file.log")}" },${plugins}
}\n`);
  const child = start(path.join(OC_PKG, "..", ".bin", "openclaw"),
    ["gateway", "run", "--allow-unconfigured", "--auth", "token", "--token", token, "--port", String(port), "--bind", "loopback"],
    { home, log: path.join(DIR, "gateway.log"), extraEnv: { OPENCLAW_GATEWAY_TOKEN: token } });
  const t0 = Date.now();
  while (Date.now() - t0 < 180000) {
    if (!groups.has(child.pid)) throw new Error(`the gateway exited during start-up; see ${DIR}/gateway.log`);
    try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break; } catch {}
    await sleep(100);
  }
  say(`gateway ready on 127.0.0.1:${port} after ${Date.now() - t0} ms`);
  return { child, port, token, home };
}

// ---- the operator connection ---------------------------------------------------------------------
// Internal dist modules have hashed names; find one by an exported name.
async function importExport(prefix, name) {
  for (const f of fs.readdirSync(DIST)) {
    if (!f.startsWith(prefix) || !f.endsWith(".mjs")) continue;
    const text = fs.readFileSync(path.join(DIST, f), "utf8").trimEnd();
    const m = /export\s*\{([^}]*)\}\s*;?\s*$/.exec(text);
    if (!m) continue;
    for (const part of m[1].split(",")) {
      const [local, exported] = part.trim().split(/\s+as\s+/);
      if (local === name) return (await import(pathToFileURL(path.join(DIST, f)).href))[exported ?? local];
    }
  }
  throw new Error(`${name} not found in ${DIST}/${prefix}*.mjs (another openclaw version?)`);
}
async function connectOperator(gw) {
  const { GatewayClient } = await import(pathToFileURL(path.join(DIST, "plugin-sdk/gateway-runtime.js")).href);
  // The CLI's device identity lives under HOME; the operator uses the gateway's HOME.
  process.env.HOME = gw.home;
  const resolveIdentity = await importExport("call-", "resolveDeviceIdentityForGatewayCall");
  let ready;
  const hello = new Promise((r) => { ready = r; });
  const client = new GatewayClient({
    url: `ws://127.0.0.1:${gw.port}`, token: gw.token, instanceId: randomUUID(), clientName: "cli",
    clientDisplayName: "openclaw-node compare", mode: "cli", role: "operator",
    scopes: ["operator.admin", "operator.approvals", "operator.pairing", "operator.read", "operator.write"],
    deviceIdentity: resolveIdentity(), minProtocol: 4, maxProtocol: 4, requestTimeoutMs: 180000,
    onHelloOk: () => ready(), onConnectError: () => {}, onClose: () => {},
  });
  client.start();
  const ok = await Promise.race([hello.then(() => true), sleep(60000).then(() => false)]);
  if (!ok) throw new Error(`the operator connection got no hello-ok; see ${DIR}/gateway.log`);
  return client;
}

// ---- the hosts -----------------------------------------------------------------------------------
class Host {
  constructor(spec, gw, client) {
    Object.assign(this, spec);
    this.gw = gw;
    this.client = client;
    this.home = path.join(DIR, "hosts", spec.name);
    this.log = path.join(DIR, "hosts", `${spec.name}.log`);
    this.r = { startMs: [], rssIdleKiB: [], rssAfterKiB: [], whichMs: [], runMs: [], floorMs: [],
      tput: Object.fromEntries(DEPTHS.map((d) => [d, []])), cpuPerRun: Object.fromEntries(DEPTHS.map((d) => [d, []])) };
  }
  async start() {
    const t0 = Date.now();
    fs.mkdirSync(this.home, { recursive: true });
    this.child = start(this.cmd[0], [...this.cmd.slice(1), "--host", "127.0.0.1", "--port", String(this.gw.port), "--display-name", this.name],
      { home: this.home, log: this.log, extraEnv: { OPENCLAW_GATEWAY_TOKEN: this.gw.token } });
    return t0;
  }
  async stop() { if (this.child) await stop(this.child); this.child = null; }
  async nodes() { return (await this.client.request("node.list", {}, { timeoutMs: 30000 })).nodes ?? []; }
  // Waits until the gateway lists this host connected (since `since`) with system.run, approving
  // its pending command surface on the way, as `openclaw nodes approve` does. Returns connectedAtMs.
  async waitConnected(since, timeoutMs = 120000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!groups.has(this.child.pid)) throw new Error(`${this.label} exited; see ${this.log}`);
      const n = (await this.nodes()).find((x) => x.displayName === this.name && x.connected && (x.connectedAtMs ?? 0) >= since);
      const need = FILES ? ["system.run", "file.fetch"] : ["system.run"];
      if (n && need.every((c) => (n.commands ?? []).includes(c))) { this.nodeId = n.nodeId; return n.connectedAtMs; }
      const pending = await this.client.request("node.pair.list", {}, { timeoutMs: 30000 });
      for (const req of pending.pending ?? pending.requests ?? []) {
        if (req.displayName === this.name) await this.client.request("node.pair.approve", { requestId: req.requestId }, { timeoutMs: 30000 });
      }
      await sleep(n ? 20 : 50);
    }
    throw new Error(`${this.label} did not connect with system.run within ${timeoutMs} ms; see ${this.log}`);
  }
  async invoke(command, params, timeoutMs = 60000) {
    return await this.client.request("node.invoke",
      { nodeId: this.nodeId, command, params, timeoutMs, idempotencyKey: randomUUID() }, { timeoutMs: timeoutMs + 15000 });
  }
  async which() {
    const r = await this.invoke("system.which", { bins: ["sh", "git", "no-such-tool"] });
    if (!r.payload?.bins?.sh) throw new Error(`${this.label}: unexpected system.which answer ${JSON.stringify(r).slice(0, 300)}`);
  }
  // A gateway RPC that names the node but does not reach it: the gateway's own share of a round trip.
  async describe() {
    const r = await this.client.request("node.describe", { nodeId: this.nodeId }, { timeoutMs: 30000 });
    if (!r) throw new Error(`${this.label}: empty node.describe answer`);
  }
  async runTrue() {
    const r = await this.invoke("system.run", { command: ["true"] });
    if (r.payload?.exitCode !== 0) throw new Error(`${this.label}: unexpected system.run answer ${JSON.stringify(r).slice(0, 300)}`);
  }
}

// ---- statistics and the table --------------------------------------------------------------------
function q(xs, p) { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.round((s.length - 1) * p)] : NaN; }
const med = (xs) => q(xs, 0.5);
const fmtMs = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1)) + " ms";
const fmtMiB = (k) => (k / 1024).toFixed(1) + " MiB";

async function timed(fn) { const t0 = now(); await fn(); return now() - t0; }

async function round(host, r) {
  say(`round ${r}/${ROUNDS}: ${host.label}`);
  await host.stop();
  const t0 = await host.start();
  const at = await host.waitConnected(t0);
  host.r.startMs.push(at - t0);
  await sleep(2000);
  host.r.rssIdleKiB.push(rssKiB(host.child.pid));
  for (let i = 0; i < 5; i++) { await host.which(); await host.runTrue(); }
  for (let i = 0; i < SAMPLES; i++) {
    host.r.floorMs.push(await timed(() => host.describe()));
    host.r.whichMs.push(await timed(() => host.which()));
    host.r.runMs.push(await timed(() => host.runTrue()));
  }
  for (const depth of DEPTHS) {
    let next = 0;
    const before = { gw: cpu(host.gw.child.pid), host: cpu(host.child.pid), self: process.cpuUsage() };
    const t = await timed(() => Promise.all(Array.from({ length: depth }, async () => {
      while (next++ < RUNS) await host.runTrue();
    })));
    host.r.tput[depth].push(RUNS / (t / 1000));
    const after = { gw: cpu(host.gw.child.pid), host: cpu(host.child.pid), self: process.cpuUsage(before.self) };
    // µs of CPU per run: the gateway, the host, the commands it ran, this driver.
    host.r.cpuPerRun[depth].push({
      gateway: (after.gw.ns - before.gw.ns) / 1e3 / RUNS,
      host: (after.host.ns - before.host.ns) / 1e3 / RUNS,
      commands: ((after.host.childTicks - before.host.childTicks) * TICK_NS) / 1e3 / RUNS,
      driver: (after.self.user + after.self.system) / RUNS,
      wall: (t * 1e3) / RUNS,
    });
  }
  host.r.rssAfterKiB.push(rssKiB(host.child.pid));
}

async function main() {
  fs.mkdirSync(path.join(DIR, "hosts"), { recursive: true });
  const gw = await startGateway();
  const client = await connectOperator(gw);
  const hosts = HOSTS.map((h) => new Host(h, gw, client));
  // First start: identity, device pairing (automatic on loopback) and command-surface approval.
  for (const h of hosts) {
    const t0 = await h.start();
    await h.waitConnected(t0);
    say(`${h.label}: paired and approved (${Date.now() - t0} ms from start)`);
  }
  for (let r = 1; r <= ROUNDS; r++) for (const h of hosts) await round(h, r);

  // Idle CPU: every host idle and connected at once, over the same window.
  say(`idle window of ${IDLE_S} s for ${hosts.map((h) => h.label).join(" and ")}`);
  await sleep(2000);
  const before = hosts.map((h) => cpu(h.child.pid));
  const w0 = now();
  await sleep(IDLE_S * 1000);
  const windowMs = now() - w0;
  hosts.forEach((h, i) => {
    const after = cpu(h.child.pid);
    h.idle = { ms: (after.ns - before[i].ns) / 1e6, ticks: after.ticks - before[i].ticks, windowMs };
    h.idle.percent = (100 * h.idle.ms) / windowMs;
  });

  if (BIG) {
    for (const h of hosts) {
      say(`${h.label}: a command printing 1 GB`);
      const hwmBefore = hwmKiB(h.child.pid);
      const t = await timed(async () => {
        const r = await h.invoke("system.run", { command: ["head", "-c", "1000000000", "/dev/zero"], timeoutMs: 300000 }, 300000);
        if (r.payload?.exitCode !== 0) throw new Error(`${h.label}: the 1 GB run failed: ${JSON.stringify(r).slice(0, 300)}`);
      });
      h.big = { hwmBeforeKiB: hwmBefore, hwmAfterKiB: hwmKiB(h.child.pid), seconds: t / 1000 };
    }
  }
  if (FILES) {
    // file.fetch through the gateway's two phases. The 16 MiB answer reaches the gateway but not an
    // operator: the gateway's reply carries the base64 twice and the client's frame limit is 25 MiB
    // (node-surface §21.2), so it is asked on a throw-away operator connection, and the figure is the
    // host's peak RSS once the node has answered (the gateway logs the node's result).
    fs.mkdirSync(path.join(DIR, "files"), { recursive: true });
    for (const [name, size] of FILE_SIZES) {
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i += 65536) randomFillSync(bytes, i, Math.min(65536, size - i));
      fs.writeFileSync(path.join(DIR, "files", name.replace(" ", "")), bytes);
    }
    for (const h of hosts) {
      h.files = {};
      for (const [name, size] of FILE_SIZES) {
        say(`${h.label}: file.fetch of ${name}`);
        const file = path.join(DIR, "files", name.replace(" ", ""));
        const viaOwnClient = size > 9 << 20;
        const c = viaOwnClient ? await connectOperator(gw) : client;
        const t0 = now();
        const outcome = await Promise.race([
          c.request("node.invoke", { nodeId: h.nodeId, command: "file.fetch", params: { path: file, maxBytes: 16 << 20 },
            timeoutMs: 120000, idempotencyKey: randomUUID() }, { timeoutMs: 135000 }).then((r) => r, (e) => ({ error: String(e) })),
          sleep(135000).then(() => ({ error: "timeout" })),
        ]);
        const ms = now() - t0;
        if (viaOwnClient) { await sleep(2000); c.stop?.(); }
        const ok = outcome?.payload?.size === size;
        if (!viaOwnClient && !ok) throw new Error(`${h.label}: file.fetch ${name} failed: ${JSON.stringify(outcome).slice(0, 300)}`);
        h.files[name] = { ms, hwmKiB: hwmKiB(h.child.pid), reachedOperator: ok };
      }
    }
  }
  for (const h of hosts) await h.stop();
  client.stop?.();

  const rows = [];
  const fig = (name, f, ratioGoal) => rows.push({ name, f, ratioGoal });
  fig("start → connected, median", (h) => med(h.r.startMs), null);
  fig("RSS idle after connect, median", (h) => med(h.r.rssIdleKiB), null);
  fig(`RSS after ${SAMPLES * 2 + RUNS * DEPTHS.length + 10} invokes in a round, median`, (h) => med(h.r.rssAfterKiB), null);
  fig("gateway RPC without the node (node.describe), median", (h) => med(h.r.floorMs), null);
  fig("system.which round trip, median", (h) => med(h.r.whichMs), { max: 0.5 });
  fig("system.which round trip, p99", (h) => q(h.r.whichMs, 0.99), null);
  fig("system.run true round trip, median", (h) => med(h.r.runMs), { max: 0.3 });
  fig("system.run true round trip, p99", (h) => q(h.r.runMs, 0.99), null);
  for (const d of DEPTHS) fig(`system.run true throughput, ${d} in flight`, (h) => med(h.r.tput[d]), { min: 4 });
  fig(`CPU idle over ${IDLE_S} s`, (h) => h.idle.percent, null);
  if (BIG) fig("peak RSS (VmHWM) after printing 1 GB", (h) => h.big.hwmAfterKiB, null);
  if (FILES) {
    fig("file.fetch 1 MiB through the gateway (two phases)", (h) => h.files["1 MiB"].ms, null);
    fig("peak RSS (VmHWM) after file.fetch 1 MiB", (h) => h.files["1 MiB"].hwmKiB, null);
    fig("peak RSS (VmHWM) after file.fetch 16 MiB", (h) => h.files["16 MiB"].hwmKiB, null);
  }

  const unit = (name, v) =>
    /RSS/.test(name) ? fmtMiB(v) : /throughput/.test(name) ? `${v.toFixed(0)}/s` : /CPU/.test(name) ? `${v.toFixed(3)} %` : fmtMs(v);
  const [a, b] = hosts;
  const header = ["figure", ...hosts.map((h) => h.label)];
  if (b) header.push(`${a.label} ÷ ${b.label}`, "goal", "");
  const table = [header];
  for (const row of rows) {
    const vals = hosts.map((h) => row.f(h));
    const line = [row.name, ...vals.map((v) => unit(row.name, v))];
    if (b) {
      const ratio = vals[0] / vals[1];
      line.push(`${ratio.toFixed(3)}×`);
      const g = row.ratioGoal;
      if (g?.max !== undefined) line.push(`≤ ${g.max}×`, ratio <= g.max ? "met" : "MISSED");
      else if (g?.min !== undefined) line.push(`≥ ${g.min}×`, ratio >= g.min ? "met" : "MISSED");
      else line.push("", "");
    }
    table.push(line);
  }
  const widths = header.map((_, i) => Math.max(...table.map((l) => [...String(l[i] ?? "")].length)));
  const pad = (s, w) => String(s) + " ".repeat(Math.max(0, w - [...String(s)].length));
  console.log(`\nthrough the real gateway (openclaw ${JSON.parse(fs.readFileSync(path.join(OC_PKG, "package.json"))).version}), ` +
    `${ROUNDS} rounds alternating ${hosts.map((h) => h.label).join(" / ")}; ${SAMPLES} samples per round per round trip, ` +
    `${RUNS} runs per throughput figure`);
  table.forEach((l, i) => {
    console.log(l.map((c, j) => pad(c ?? "", widths[j])).join("  ").trimEnd());
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  });
  console.log("\nCPU per system.run, µs (median over rounds): gateway / host / the `true` it ran / this driver; wall time per run");
  for (const h of hosts) {
    for (const d of DEPTHS) {
      const xs = h.r.cpuPerRun[d];
      const m = (k) => med(xs.map((x) => x[k])).toFixed(0);
      console.log(`  ${pad(h.label, 14)} ${String(d).padStart(2)} in flight: gateway ${m("gateway")}, host ${m("host")}, ` +
        `true ${m("commands")}, driver ${m("driver")}; wall ${m("wall")}`);
    }
  }
  for (const h of hosts) {
    console.log(`${h.label}: ${h.cmd.join(" ")}; idle CPU ${h.idle.ms.toFixed(2)} ms (${h.idle.ticks} ticks) in ${(h.idle.windowMs / 1000).toFixed(1)} s` +
      (h.big ? `; 1 GB printed in ${h.big.seconds.toFixed(1)} s, VmHWM ${fmtMiB(h.big.hwmBeforeKiB)} before` : "") +
      (h.files ? `; file.fetch 16 MiB answered in ${h.files["16 MiB"].ms.toFixed(0)} ms (reached the operator: ${h.files["16 MiB"].reachedOperator})` : ""));
  }
  fs.writeFileSync(path.join(DIR, "results.json"), JSON.stringify(hosts.map((h) => ({ label: h.label, cmd: h.cmd, ...h.r, idle: h.idle, big: h.big, files: h.files })), null, 1));
}

main().then(() => process.exit(0), (err) => { say(`error: ${err?.stack ?? err}`); process.exit(1); });
