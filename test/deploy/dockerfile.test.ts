/**
 * deploy/Dockerfile without a container runtime: its build stage is replayed on a copy of exactly
 * what a clean checkout has (git's tracked and not-ignored files), the way the builder would run
 * it, and what the runtime stage takes from that stage and from the context must exist.
 *
 * Two steps are stood in for, each for a stated reason: `npm ci` (registry traffic in a test; the
 * repository's node_modules, installed from the same lockfile, is linked instead) and
 * `npm prune --omit=dev` (it would delete from that shared node_modules). Every other RUN
 * command runs as written, so a step another change adds is covered too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = new URL('../../../', import.meta.url).pathname;

interface Instruction { readonly op: string; readonly args: string }
interface Stage { readonly base: string; readonly name: string | undefined; readonly steps: Instruction[] }

/** Dockerfile → stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (cur === '' && /^\s*#/.test(line)) continue;
    if (cur !== '' && /^\s*#/.test(line)) continue; // comment lines inside a continuation
    if (line.endsWith('\\')) { cur += `${line.slice(0, -1)} `; continue; }
    cur += line;
    if (cur.trim() !== '') logical.push(cur.trim());
    cur = '';
  }
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (m === null) throw new Error(`Dockerfile: cannot parse ${JSON.stringify(l)}`);
    const op = (m[1] ?? '').toUpperCase(), args = m[2] ?? '';
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ base: f?.[1] ?? args, name: f?.[2], steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`Dockerfile: ${op} before FROM`);
    stage.steps.push({ op, args });
  }
  return stages;
}

/** COPY's flags, sources and destination (shell form only, as this Dockerfile writes it). */
function copyArgs(args: string): { from: string | undefined; srcs: string[]; dest: string } {
  const words = args.split(/\s+/).filter(Boolean);
  let from: string | undefined;
  while (words[0]?.startsWith('--') === true) {
    const flag = words.shift() ?? '';
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = words.pop() ?? '';
  return { from, srcs: words, dest };
}

function cleanCheckoutFiles(): string[] | undefined {
  const r = spawnSync('git', ['-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return r.stdout.split('\0').filter((f) => f !== '' && existsSync(join(root, f)));
}

const dockerfile = parseDockerfile(readFileSync(join(root, 'deploy/Dockerfile'), 'utf8'));
const files = cleanCheckoutFiles();

test('the Dockerfile has a build stage, and the runtime stage is last', () => {
  assert.ok(dockerfile.some((s) => s.name === 'build'), 'a stage named build');
  assert.equal(dockerfile.at(-1)?.name, undefined, 'the final stage is the image');
});

test('every file the Dockerfile copies from the build context is in a clean checkout', { skip: files === undefined ? 'not a git checkout' : false }, () => {
  const tracked = files ?? [];
  for (const stage of dockerfile) {
    for (const step of stage.steps.filter((s) => s.op === 'COPY')) {
      const { from, srcs } = copyArgs(step.args);
      if (from !== undefined) continue;
      for (const src of srcs) {
        const p = posix.normalize(src).replace(/\/$/, '');
        assert.ok(tracked.some((f) => f === p || f.startsWith(`${p}/`)), `COPY ${src}: not in a clean checkout`);
      }
    }
  }
});

test('every chained plugin the manifest\'s conflist names is shipped in the image for install-cni.sh', () => {
  const cm = parseAllDocuments(readFileSync(join(root, 'deploy/tortie.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown> | null)
    .find((d) => d?.['kind'] === 'ConfigMap') as { data: Record<string, string> };
  const conf = JSON.parse((cm.data['cni_network_config'] ?? '').replace('__CNI_MTU__', '0')) as { plugins: Array<{ type: string }> };
  const image = dockerfile.at(-1);
  assert.ok(image);
  const workdir = image.steps.filter((s) => s.op === 'WORKDIR').at(-1)?.args ?? '/';
  const shipped = image.steps.filter((s) => s.op === 'COPY').map((s) => posix.resolve(workdir, copyArgs(s.args).dest));
  for (const { type } of conf.plugins) {
    if (type === 'tortie') continue; // the wrapper install-cni.sh writes itself
    assert.ok(shipped.includes(posix.join(workdir, 'cni', type)), `conflist plugin ${type}: the image has no ${workdir}/cni/${type}`);
  }
});

test('the build stage runs on a clean checkout and produces what the image copies', { skip: files === undefined ? 'not a git checkout' : false, timeout: 300_000 }, (t) => {
  const build = dockerfile.find((s) => s.name === 'build');
  assert.ok(build);
  const ctx = mkdtempSync(join(tmpdir(), 'tortie-docker-build-'));
  try {
    let workdir = '/';
    const at = (p: string): string => join(ctx, posix.resolve(workdir, p));
    for (const step of build.steps) {
      if (step.op === 'WORKDIR') { workdir = posix.resolve(workdir, step.args); mkdirSync(at('.'), { recursive: true }); continue; }
      if (step.op === 'COPY') {
        const { from, srcs, dest } = copyArgs(step.args);
        assert.equal(from, undefined, 'the build stage copies only from the context');
        for (const src of srcs) {
          const p = posix.normalize(src).replace(/\/$/, '');
          const target = srcs.length > 1 || dest.endsWith('/') ? posix.join(dest, posix.basename(p)) : dest;
          for (const f of (files ?? []).filter((x) => x === p || x.startsWith(`${p}/`))) {
            const out = at(posix.join(target, f.slice(p.length)));
            mkdirSync(dirname(out), { recursive: true });
            cpSync(join(root, f), out);
          }
        }
        continue;
      }
      if (step.op !== 'RUN') continue;
      for (const cmd of step.args.split(/\s*&&\s*/)) {
        if (/^npm ci\b/.test(cmd)) { symlinkSync(join(root, 'node_modules'), at('node_modules')); t.diagnostic(`stood in: ${cmd} (node_modules linked)`); continue; }
        if (/^npm prune\b/.test(cmd)) { t.diagnostic(`skipped: ${cmd} (would prune the shared node_modules)`); continue; }
        const r = spawnSync('sh', ['-c', cmd], { cwd: at('.'), encoding: 'utf8', env: { ...process.env, NODE_ENV: '' } });
        assert.equal(r.status, 0, `RUN ${cmd} failed (${r.status}):\n${(r.stderr + r.stdout).slice(-3000)}`);
      }
    }
    // What the image takes from this stage.
    const image = dockerfile.at(-1);
    assert.ok(image);
    for (const step of image.steps.filter((s) => s.op === 'COPY')) {
      const { from, srcs } = copyArgs(step.args);
      if (from !== 'build') continue;
      for (const src of srcs) assert.ok(existsSync(join(ctx, src)), `COPY --from=build ${src}: the build stage did not produce it`);
    }
    // The commands the image installs (`name:path` pairs under dist/) exist and start.
    const pairs = [...image.steps.filter((s) => s.op === 'RUN').map((s) => s.args).join(' ').matchAll(/([\w-]+):([\w/.-]+\.c?js)/g)];
    assert.ok(pairs.length >= 4, 'the image installs tortie-node, tortiectl, tortie-bgpd and tortie-bgpctl');
    for (const [, name, path] of pairs) assert.ok(existsSync(join(ctx, workdir, 'dist', path ?? '')), `${name ?? ''}: dist/${path ?? ''} not built`);
    const ctl = spawnSync(process.execPath, [join(ctx, workdir, 'dist/agent/ctl/main.js'), '--help'], { encoding: 'utf8' });
    assert.equal(ctl.status, 0, ctl.stderr);
    assert.match(ctl.stdout, /apply/);
    assert.ok(existsSync(join(ctx, workdir, 'dist/agent/cni/tortie-cni.cjs')), 'the CNI plugin bundle install-cni.sh copies');
    checkWrappers(image, join(ctx, workdir, 'dist'), pairs.map((m) => m[0]));
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

/** The node flags of a file's interpreter line (`#!/usr/bin/env -S node FLAGS`), as install-bins.sh reads them. */
function shebangFlags(file: string): string[] {
  const m = /^#!\/usr\/bin\/env -S node (.*)$/.exec(readFileSync(file, 'utf8').split('\n', 1)[0] ?? '');
  return m ? (m[1] ?? '').split(/\s+/).filter(Boolean) : [];
}

/**
 * The image's command wrappers, written by deploy/install-bins.sh as its RUN step calls it (into a
 * temporary directory instead of /usr/local/bin, over the build stage's dist): each runs its file
 * with the node flags of that file's interpreter line, so tortie-bgpd runs with the flags of
 * bgp/bgpd/main.ts's line (one source: the bin and the image), and they reach the process.
 */
function checkWrappers(image: Stage, dist: string, pairs: readonly string[]): void {
  const run = image.steps.find((s) => s.op === 'RUN' && /install-bins\.sh/.test(s.args));
  assert.ok(run, 'the image writes its commands with deploy/install-bins.sh');
  const words = run.args.split(/\s+/);
  const at = words.findIndex((w) => w.endsWith('install-bins.sh'));
  assert.ok(image.steps.some((s) => s.op === 'COPY' && copyArgs(s.args).srcs.includes('deploy/install-bins.sh')), 'install-bins.sh is copied into the image');
  const workdir = image.steps.filter((s) => s.op === 'WORKDIR').at(-1)?.args ?? '/';
  assert.equal(words[at + 1], posix.join(workdir, 'dist'), 'the wrappers run the image\'s dist');
  const bin = mkdtempSync(join(tmpdir(), 'tortie-bins-'));
  try {
    const r = spawnSync('sh', [join(root, 'deploy/install-bins.sh'), dist, bin, ...pairs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const execOf = (name: string): { flags: string[]; file: string } => {
      const line = readFileSync(join(bin, name), 'utf8').split('\n').find((l) => l.startsWith('exec ')) ?? '';
      const w = line.split(/\s+/); // exec node FLAGS... FILE "$@"
      assert.equal(w[1], 'node', line);
      return { flags: w.slice(2, -2), file: w.at(-2) ?? '' };
    };
    for (const pair of pairs) {
      const [name = '', path = ''] = pair.split(':');
      assert.ok((statSync(join(bin, name)).mode & 0o111) !== 0, `${name} is executable`);
      const { flags, file } = execOf(name);
      assert.equal(file, join(dist, path), `${name} runs dist/${path}`);
      assert.deepEqual(flags, shebangFlags(join(dist, path)), `${name}: the node flags of its interpreter line`);
    }
    // tortie-bgpd: the flags of bgp/bgpd/main.ts's line, and the running process has them
    const want = shebangFlags(join(root, 'bgp/bgpd/main.ts'));
    assert.ok(want.length > 0, 'bgp/bgpd/main.ts sets node flags on its interpreter line');
    assert.deepEqual(execOf('tortie-bgpd').flags, want);
    const probe = join(bin, 'exec-argv.cjs');
    writeFileSync(probe, 'process.stderr.write(`execArgv=${JSON.stringify(process.execArgv)}\\n`);\n');
    const started = spawnSync(join(bin, 'tortie-bgpd'), ['--help'], { encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, NODE_OPTIONS: `--require ${probe}` } });
    assert.equal(started.status, 0, started.stderr);
    assert.match(started.stdout, /tortie-bgpd/);
    const argv = JSON.parse(/execArgv=(.*)/.exec(started.stderr)?.[1] ?? '[]') as string[];
    for (const f of want) assert.ok(argv.includes(f), `tortie-bgpd runs with ${f} (execArgv ${JSON.stringify(argv)})`);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}
