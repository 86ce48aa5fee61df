// Reads the pieces compare.sh collected in one directory, prints the side-by-side table
// and writes every figure as one JSON file. Usage: node summarize.mjs RESULTS_DIR OUT_FILE
// The run's settings and side facts come from the environment compare.sh sets.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, out] = process.argv.slice(2);
const read = (name) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

const env = process.env;
const num = (v) => (v === undefined || v === '' ? null : Number(v));
const mib = (kb) => (kb ? Math.round((Number(kb) / 1024) * 10) / 10 : null);
const meta = {
  machine: {
    cpus: num(env.NPROC),
    other_processes_cores_before: num(env.BUSY_BEFORE),
    load_before: env.LOAD_BEFORE,
    load_after: env.LOAD_AFTER,
    warning: env.LOAD_WARNING || null,
    // CPU used by processes other than this run's, in cores on average, per measurement.
    other_processes_cores: Object.fromEntries(
      ['peer-discovery', 'peer-token', 'peer-flows', 'sesam-discovery', 'sesam-logins']
        .map((name) => [name.replace('-', '_'), Number(readFileSync(join(dir, `${name}.other`), 'utf8'))]),
    ),
  },
  settings: {
    duration: num(env.DURATION),
    warmup: num(env.WARMUP),
    concurrency: num(env.CONCURRENCY),
    server_cpu: num(env.SERVER_CPU),
    load_cpu: num(env.LOAD_CPU),
    wrk_threads: 1,
  },
  peer: {
    version: env.PEER_VERSION,
    node_version: env.NODE_VERSION,
    discovery_bytes: num(env.PEER_DISCOVERY_BYTES),
    access_token: read('peer-access-token.json'),
    rss_mib: mib(env.PEER_RSS_KB),
    peak_rss_mib: mib(env.PEER_HWM_KB),
  },
  sesam: {
    version: env.SESAM_VERSION,
    people: num(env.PEOPLE),
    discovery_bytes: num(env.SESAM_DISCOVERY_BYTES),
  },
};
const peerDiscovery = read('peer-discovery.json');
const peerToken = read('peer-token.json');
const peerFlows = read('peer-flows.json');
const sesamDiscovery = read('sesam-discovery.json');
const sesamLogins = read('sesam-logins.json');

const sesamTokenStep = sesamLogins.steps.find((s) => s.step === 'token') ?? null;
const peerTokenStep = peerFlows.steps.find((s) => s.step === 'token') ?? null;
const ratio = (a, b) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);

const result = {
  generated_at: new Date().toISOString(),
  machine: meta.machine,
  settings: meta.settings,
  peer: {
    name: 'oidc-provider',
    version: meta.peer.version,
    node_version: meta.peer.node_version,
    storage: 'built-in in-memory adapter (no database)',
    discovery_bytes: meta.peer.discovery_bytes,
    discovery: peerDiscovery,
    token_client_credentials: { ...peerToken, access_token: meta.peer.access_token },
    code_flow: peerFlows,
    rss_mib: meta.peer.rss_mib,
    peak_rss_mib: meta.peer.peak_rss_mib,
  },
  sesam: {
    version: meta.sesam.version,
    storage: 'embedded SQLite',
    people: meta.sesam.people,
    discovery_bytes: meta.sesam.discovery_bytes,
    discovery: sesamDiscovery,
    token_client_credentials: null,
    token_note: 'sesam has no client_credentials grant (it logs people in); token_step is the '
      + 'authorization-code exchange step measured inside complete logins by sesam-bench',
    token_step: sesamTokenStep,
    logins: sesamLogins,
  },
  ratios: {
    discovery_rps_sesam_over_peer: ratio(sesamDiscovery.requests_per_second, peerDiscovery.requests_per_second),
    complete_logins_sesam_over_peer_code_flows: ratio(sesamLogins.logins_per_second, peerFlows.flows_per_second),
  },
};
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);

const f = (n, digits = 1) => (n === null || n === undefined ? '-' : Number(n).toFixed(digits));
const lat = (p50, p95, p99) => `${f(p50)} / ${f(p95)} / ${f(p99)}`;
const errs = (e) => Object.values(e).reduce((a, b) => a + b, 0);
const rows = [
  ['', `oidc-provider ${result.peer.version}`, `sesam ${result.sesam.version}`, 'sesam/peer'],
  ['a) discovery GET, req/s (wrk)', f(peerDiscovery.requests_per_second), f(sesamDiscovery.requests_per_second),
    f(result.ratios.discovery_rps_sesam_over_peer, 2)],
  ['   latency p50 / p90 / p99 ms', lat(peerDiscovery.latency_ms.p50, peerDiscovery.latency_ms.p90, peerDiscovery.latency_ms.p99),
    lat(sesamDiscovery.latency_ms.p50, sesamDiscovery.latency_ms.p90, sesamDiscovery.latency_ms.p99), ''],
  ['   document bytes / errors', `${meta.peer.discovery_bytes} / ${errs(peerDiscovery.errors)}`,
    `${meta.sesam.discovery_bytes} / ${errs(sesamDiscovery.errors)}`, ''],
  ['b) client_credentials, req/s (wrk)', f(peerToken.requests_per_second), 'n/a (no such grant)', ''],
  ['   latency p50 / p90 / p99 ms', lat(peerToken.latency_ms.p50, peerToken.latency_ms.p90, peerToken.latency_ms.p99), '', ''],
  ['   access token / errors', `${meta.peer.access_token.alg} ${meta.peer.access_token.typ} / ${errs(peerToken.errors)}`, '', ''],
  ['   code-exchange token step p50/p95/p99 ms', peerTokenStep ? lat(peerTokenStep.p50_ms, peerTokenStep.p95_ms, peerTokenStep.p99_ms) : '-',
    sesamTokenStep ? lat(sesamTokenStep.p50_ms, sesamTokenStep.p95_ms, sesamTokenStep.p99_ms) : '-', ''],
  ['c/d) complete logins per second', `${f(peerFlows.flows_per_second)} (code+PKCE, auto login)`,
    `${f(sesamLogins.logins_per_second)} (app-approved)`, f(result.ratios.complete_logins_sesam_over_peer_code_flows, 2)],
  ['   one login p50 / p95 / p99 ms', lat(peerFlows.flow.p50_ms, peerFlows.flow.p95_ms, peerFlows.flow.p99_ms),
    lat(sesamLogins.login.p50_ms, sesamLogins.login.p95_ms, sesamLogins.login.p99_ms), ''],
  ['   completed / failed', `${peerFlows.completed} / ${peerFlows.errors}`, `${sesamLogins.completed} / ${sesamLogins.failed}`, ''],
  ['   timed steps per login', `${peerFlows.steps.length}`, `${sesamLogins.steps.length}`, ''],
  ['   load generator CPU (cores)', f(peerFlows.driver_cpu_cores, 2), '-', ''],
  ...(() => {
    const o = meta.machine.other_processes_cores;
    return [
      ['other processes\' CPU (cores): discovery', f(o.peer_discovery, 2), f(o.sesam_discovery, 2), ''],
      ['   client_credentials / logins', `${f(o.peer_token, 2)} / ${f(o.peer_flows, 2)}`, `- / ${f(o.sesam_logins, 2)}`, ''],
    ];
  })(),
  ['server RSS / peak MiB', `${f(meta.peer.rss_mib)} / ${f(meta.peer.peak_rss_mib)}`,
    `${f(sesamLogins.server_rss_mib)} / ${f(sesamLogins.server_peak_rss_mib)}`, ''],
];
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();

console.log('');
console.log(`Peer comparison: ${meta.settings.duration} s per measurement, concurrency ${meta.settings.concurrency}, `
  + `servers on CPU ${meta.settings.server_cpu}, load generators on CPU ${meta.settings.load_cpu}`);
console.log(line(rows[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) console.log(line(r));
console.log('');
console.log('b) sesam has no client_credentials grant; its token row is the authorization-code exchange');
console.log('   step timed inside complete logins (sesam-bench step "token"), next to the same step of the');
console.log('   peer\'s code flow. c/d) the peer\'s login is finished by the server itself (no person, no app);');
console.log('   sesam\'s is a full app-approved login (PAR, user ID, app choice, app approval with device');
console.log('   signature and PIN proof, callback, token, userinfo) on SQLite; the peer keeps state in memory.');
if (sesamLogins.errors && Object.keys(sesamLogins.errors).length) console.log(`sesam errors: ${JSON.stringify(sesamLogins.errors)}`);
if (peerFlows.errors) console.log(`peer errors: ${JSON.stringify(peerFlows.error_kinds)}`);
console.log(`load average before: ${meta.machine.load_before}  after: ${meta.machine.load_after}`);
if (meta.machine.warning) console.log(`WARNING: ${meta.machine.warning}`);
const disturbed = Object.entries(meta.machine.other_processes_cores).filter(([, v]) => v > 0.1);
if (disturbed.length) {
  console.log(`WARNING: other processes used more than 0.1 of the ${meta.machine.cpus} cores during `
    + `${disturbed.map(([k, v]) => `${k} (${v})`).join(', ')}: those figures are disturbed`);
} else {
  console.log('other processes used at most 0.1 core during every measurement: undisturbed');
}
console.log(`JSON: ${out}`);
