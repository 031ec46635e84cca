// A throwaway mqchat stack for browser tests, like tests/integration/
// harness.py: redis-server and mosquitto with the plugin, a plain MQTT
// listener and a WebSockets listener whose http_dir is the built web
// client, all on free loopback ports in a temporary directory. stop() tears
// everything down; so does process exit. No fixed sleeps: every wait polls a
// condition against a deadline.
//
// Paths come from the environment (set by ctest): MQCHAT_PLUGIN, MQCHAT_CLI,
// MQCHAT_SANITIZE (ON: the broker runs with the ASan/UBSan runtimes
// preloaded), MQCHAT_WEB_DIST (the built client). MQC_TEST_REDIS=cluster:
// the store on a 3+3 Redis Cluster (scripts/redis-cluster.sh) instead of
// one redis-server, the broker and the CLI given its seeds.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SANITIZE = process.env.MQCHAT_SANITIZE === 'ON';
export const TIMEOUT = (SANITIZE ? 3 : 1) * 15000;
export const CLUSTER = process.env.MQC_TEST_REDIS === 'cluster';
const CLUSTER_SCRIPT = fileURLToPath(new URL('../../../scripts/redis-cluster.sh', import.meta.url));

// Clusters started here and not stopped yet: stopped at exit too (their
// nodes are daemons, not children).
const clusters = new Set();
function clusterStop(dir) {
  spawnSync('bash', [CLUSTER_SCRIPT, 'stop', dir], { encoding: 'utf8', timeout: 60000 });
  clusters.delete(dir);
}
process.on('exit', () => { for (const d of [...clusters]) clusterStop(d); });

function bindable(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(0));
    s.listen(port, '127.0.0.1', () => {
      const got = s.address().port;
      s.close(() => resolve(got));
    });
  });
}

// A free loopback port below the kernel's ephemeral range, so that no
// outgoing connection (a browser reconnecting, another test's thousands of
// clients) can take it while the broker restarts on it: mosquitto refuses
// to start on a WebSockets port held as the local end of a connection.
// Falls back to a port the kernel picks.
export async function freePort() {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch { /* not Linux: keep the usual bound */ }
  const from = 10000;
  for (let i = 0; low - from > 1000 && i < 200; i++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await bindable(port)) return port;
  }
  return bindable(0);
}

export async function waitFor(cond, what, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.setTimeout(300, () => { s.destroy(); resolve(false); });
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { got += d; if (got.includes('\r\n')) { s.destroy(); resolve(got.startsWith('+PONG')); } });
    s.once('error', () => resolve(false));
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
  });
}

function sanitizerEnv() {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  if (SANITIZE) {
    const libs = ['libasan.so', 'libubsan.so']
      .map((n) => spawnSync('gcc', [`-print-file-name=${n}`], { encoding: 'utf8' }).stdout.trim())
      .filter((p) => p && existsSync(p));
    env.LD_PRELOAD = libs.join(' ');
    // mosquitto's own allocations at exit are not ours to judge.
    env.ASAN_OPTIONS = 'detect_leaks=0:abort_on_error=1';
    env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';
  }
  return env;
}

// Children die with the test, even when it is interrupted (ctest timeout,
// Ctrl-C) before its own teardown runs.
const live = new Set();
const killAll = () => {
  for (const p of live) try { p.kill('SIGKILL'); } catch { /* gone */ }
};
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

function startProc(cmd, args, logPath, env) {
  const fd = openSync(logPath, 'a');
  const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  live.add(p);
  p.exited = new Promise((r) => p.once('exit', (code, sig) => { live.delete(p); r({ code, sig }); }));
  p.done = false;
  p.exited.then((st) => { p.done = true; p.status = st; });
  return p;
}

async function stopProc(p, sig = 'SIGTERM') {
  if (!p || p.done) return;
  p.kill(sig);
  const t = setTimeout(() => p.kill('SIGKILL'), 15000);
  await p.exited;
  clearTimeout(t);
}

export class Stack {
  constructor({ webDir, options = {} } = {}) {
    this.plugin = process.env.MQCHAT_PLUGIN;
    this.cli = process.env.MQCHAT_CLI;
    if (!this.plugin || !this.cli) throw new Error('MQCHAT_PLUGIN and MQCHAT_CLI must be set (run through ctest)');
    this.webDir = path.resolve(webDir);
    if (!existsSync(path.join(this.webDir, 'index.html'))) throw new Error(`no built web client in ${this.webDir}`);
    this.options = { presence_grace_ms: 300, ...options };
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'mqchat-web-'));
    this.brokerLog = path.join(this.dir, 'broker.log');
  }

  async start() {
    this.mqttPort = await freePort();
    this.wsPort = await freePort();
    if (CLUSTER) {
      this.clusterDir = path.join(this.dir, 'cluster');
      clusters.add(this.clusterDir);
      const r = spawnSync('bash', [CLUSTER_SCRIPT, 'start', this.clusterDir], { encoding: 'utf8', timeout: 120000 });
      if (r.status !== 0) throw new Error(`redis-cluster.sh start failed: ${r.stderr}${r.stdout}`);
      const seeds = /seeds: (.*)/.exec(r.stdout);
      if (!seeds) throw new Error(`no seeds from redis-cluster.sh: ${r.stdout}`);
      this.seeds = seeds[1].trim().split(/\s+/);
      this.redisPort = Number(this.seeds[0].split(':')[1]);
      await this.startBroker();
      return this;
    }
    this.redisPort = await freePort();
    this.redis = startProc('redis-server', [
      '--port', String(this.redisPort), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--save', '', '--protected-mode', 'yes',
    ], path.join(this.dir, 'redis.log'), process.env);
    await waitFor(async () => {
      if (this.redis.done) throw new Error(`redis-server exited: ${this.dir}/redis.log`);
      return redisPing(this.redisPort);
    }, 'redis to answer PING');
    await this.startBroker();
    return this;
  }

  writeConf() {
    const lines = [
      `listener ${this.mqttPort} 127.0.0.1`,
      `listener ${this.wsPort} 127.0.0.1`,
      // 2.0.11 binds a WebSockets listener to every interface without it.
      'socket_domain ipv4',
      'protocol websockets',
      `http_dir ${this.webDir}`,
      'allow_anonymous false',
      'user root',
      'set_tcp_nodelay true',
      'max_packet_size 81920',
      'persistence false',
      'log_dest stderr',
      'log_type all',
      `plugin ${this.plugin}`,
      `plugin_opt_redis_port ${this.redisPort}`,
      ...(this.seeds ? [`plugin_opt_redis_cluster_nodes ${this.seeds.join(' ')}`] : []),
      'plugin_opt_redis_timeout_ms 500',
      'plugin_opt_redis_retry_ms 100',
      ...Object.entries(this.options).map(([k, v]) => `plugin_opt_${k} ${v}`),
    ];
    this.confPath = path.join(this.dir, 'broker.conf');
    writeFileSync(this.confPath, `${lines.join('\n')}\n`);
  }

  async startBroker() {
    this.writeConf();
    const logFrom = this.logText().length; // this run's lines only
    this.broker = startProc('mosquitto', ['-c', this.confPath], this.brokerLog, sanitizerEnv());
    await waitFor(async () => {
      if (this.broker.done) {
        const { code, sig } = this.broker.status;
        throw new Error(`mosquitto exited (code ${code}, signal ${sig}):\n${this.logText().slice(logFrom).slice(-4000)}`);
      }
      return (await portOpen(this.mqttPort)) && (await portOpen(this.wsPort));
    }, 'mosquitto to listen');
  }

  async stopBroker() {
    await stopProc(this.broker);
  }

  get url() {
    return `http://127.0.0.1:${this.wsPort}/`;
  }

  addUser(name, password) {
    const where = this.seeds ? ['--redis-cluster', this.seeds.join(',')]
      : ['--redis', `redis://127.0.0.1:${this.redisPort}/0`];
    const r = spawnSync(this.cli, [...where, 'user', 'add', name, '--password-stdin'],
      { input: `${password}\n`, encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`mqchat user add ${name} failed: ${r.stderr}`);
  }

  logText() {
    try {
      return readFileSync(this.brokerLog, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(n = 40) {
    return this.logText().split('\n').slice(-n).join('\n');
  }

  // Stops everything; throws if the broker's log has a sanitizer report.
  async stop({ failed = false } = {}) {
    await stopProc(this.broker);
    await stopProc(this.redis);
    if (this.clusterDir) clusterStop(this.clusterDir);
    const text = this.logText();
    if (failed || process.env.MQCHAT_KEEP) process.stderr.write(`--- broker log (${this.dir}) ---\n${text.slice(-6000)}\n`);
    if (!process.env.MQCHAT_KEEP) rmSync(this.dir, { recursive: true, force: true });
    for (const bad of ['ERROR: AddressSanitizer', 'runtime error:', 'ERROR: LeakSanitizer']) {
      if (text.includes(bad)) throw new Error(`sanitizer report in broker log:\n${text.slice(-8000)}`);
    }
  }
}
