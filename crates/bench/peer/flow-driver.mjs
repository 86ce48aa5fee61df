// Drives complete authorization-code + PKCE (S256) flows against an OpenID provider whose
// login finishes by itself (see peer-server.mjs): authorize → follow the redirects with a
// fresh cookie jar per flow → callback URL with a code → token exchange with the
// code_verifier (client_secret_basic) → userinfo. C loops run for DURATION seconds after
// WARMUP seconds; prints one JSON object with flows_per_second, completed, errors and the
// p50/p95/p99 of each step in milliseconds.
//
// Env: ISSUER (http://127.0.0.1:3001), CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// CONCURRENCY (16), DURATION (10), WARMUP (2), USERINFO (1; 0 skips it).

import { createHash, randomBytes } from 'node:crypto';

const env = process.env;
const issuer = env.ISSUER ?? 'http://127.0.0.1:3001';
const clientId = env.CLIENT_ID ?? 'bench';
const clientSecret = env.CLIENT_SECRET ?? 'bench-secret';
const redirectUri = env.REDIRECT_URI ?? 'http://127.0.0.1:3002/cb';
const concurrency = Number(env.CONCURRENCY ?? 16);
const duration = Number(env.DURATION ?? 10);
const warmup = Number(env.WARMUP ?? 2);
const withUserinfo = (env.USERINFO ?? '1') !== '0';
const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;

const b64url = (buf) => buf.toString('base64url');

// A minimal cookie jar: name=value with the Path attribute, sent where the path matches.
class Jar {
  cookies = new Map();

  take(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.trim().split('=');
        const key = k.toLowerCase();
        if (key === 'path') path = v;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${name};${path}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    const out = [];
    for (const c of this.cookies.values()) {
      if (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) {
        out.push(`${c.name}=${c.value}`);
      }
    }
    return out.join('; ');
  }
}

class FlowError extends Error {}

const stepNames = ['authorize', 'interaction', 'resume', 'token', 'userinfo'];
let measuring = false;
const samples = Object.fromEntries([...stepNames, 'flow'].map((s) => [s, []]));
const errors = {};
let completed = 0;
let idTokenAlg;

async function timed(step, fn) {
  const t0 = performance.now();
  try {
    return await fn();
  } catch (e) {
    throw e instanceof FlowError ? e : new FlowError(`${step}: ${e.cause?.code ?? e.message}`);
  } finally {
    if (measuring) samples[step].push(performance.now() - t0);
  }
}

async function oneFlow(endpoints) {
  const jar = new Jar();
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const authorize = new URL(endpoints.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    state,
    nonce: b64url(randomBytes(16)),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });

  // Follow redirects by hand until the provider sends us to the redirect_uri.
  let url = authorize.href;
  let code;
  const hops = ['authorize', 'interaction', 'resume'];
  for (let hop = 0; !code; hop += 1) {
    if (hop >= 8) throw new FlowError('redirects: too many');
    const step = hops[Math.min(hop, hops.length - 1)];
    url = await timed(step, async () => {
      const headers = {};
      const cookie = jar.header(url);
      if (cookie) headers.cookie = cookie;
      const r = await fetch(url, { redirect: 'manual', headers });
      await r.arrayBuffer();
      jar.take(r);
      const location = r.headers.get('location');
      if (r.status < 300 || r.status > 399 || !location) throw new FlowError(`${step}: HTTP ${r.status}`);
      return new URL(location, url).href;
    });
    if (url.startsWith(redirectUri)) {
      const params = new URL(url).searchParams;
      if (params.get('error')) throw new FlowError(`callback: ${params.get('error')}`);
      if (params.get('state') !== state) throw new FlowError('callback: state mismatch');
      code = params.get('code');
      if (!code) throw new FlowError('callback: no code');
    }
  }

  const accessToken = await timed('token', async () => {
    const r = await fetch(endpoints.token_endpoint, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
      }),
    });
    const body = await r.json().catch(() => ({}));
    if (r.status !== 200) throw new FlowError(`token: HTTP ${r.status} ${body.error ?? ''}`.trim());
    if (!body.id_token) throw new FlowError('token: no ID token');
    if (!body.access_token) throw new FlowError('token: no access token');
    idTokenAlg ??= JSON.parse(Buffer.from(body.id_token.split('.')[0], 'base64url')).alg;
    return body.access_token;
  });

  if (withUserinfo) {
    await timed('userinfo', async () => {
      const r = await fetch(endpoints.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
      const body = await r.json().catch(() => ({}));
      if (r.status !== 200) throw new FlowError(`userinfo: HTTP ${r.status}`);
      if (!body.sub) throw new FlowError('userinfo: no sub');
    });
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)] * 1000) / 1000;
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
    max_ms: percentile(sorted, 100),
  };
}

const discovery = await (await fetch(new URL('/.well-known/openid-configuration', issuer))).json();

const start = performance.now();
const measureFrom = start + warmup * 1000;
const stopAt = measureFrom + duration * 1000;
let cpuAtMeasure;

async function loop() {
  while (performance.now() < stopAt) {
    if (!measuring && performance.now() >= measureFrom) {
      measuring = true;
      cpuAtMeasure = process.cpuUsage();
    }
    const counted = measuring;
    const t0 = performance.now();
    try {
      await oneFlow(discovery);
      if (counted && performance.now() <= stopAt) {
        completed += 1;
        samples.flow.push(performance.now() - t0);
      }
    } catch (e) {
      if (counted) {
        const label = e instanceof FlowError ? e.message : String(e);
        errors[label] = (errors[label] ?? 0) + 1;
      }
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, loop));
const cpu = process.cpuUsage(cpuAtMeasure ?? undefined);
const seconds = duration;
const failed = Object.values(errors).reduce((a, b) => a + b, 0);

console.log(JSON.stringify({
  issuer,
  concurrency,
  seconds,
  completed,
  flows_per_second: Math.round((completed / seconds) * 10) / 10,
  errors: failed,
  error_kinds: errors,
  userinfo: withUserinfo,
  id_token_alg: idTokenAlg ?? null,
  flow: summary(samples.flow),
  steps: stepNames.filter((s) => samples[s].length).map((s) => ({ step: s, ...summary(samples[s]) })),
  // The driver's own CPU use while measuring (1.0 = one core busy): near 1.0 means the
  // driver, not the server, may be the limit.
  driver_cpu_cores: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
}));
