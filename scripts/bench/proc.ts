/**
 * What the kernel knows about a process (Linux `/proc`): CPU time and resident memory. Used to
 * report the API's peak RSS and the CPU that the API and PostgreSQL spend per request.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime: 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100;

/** utime, stime, cutime, cstime of /proc/<pid>/stat, in ticks; zeros if the process is gone. */
function cpuTicks(pid: number): [number, number, number, number] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[11]), Number(fields[12]), Number(fields[13]), Number(fields[14])];
  } catch {
    return [0, 0, 0, 0];
  }
}

/** CPU seconds (user + system) the process has used so far; 0 if it is gone. */
export function cpuSeconds(pid: number): number {
  const [user, system] = cpuTicks(pid);
  return (user + system) / TICKS_PER_SECOND;
}

/**
 * CPU seconds used so far by a process tree (PostgreSQL: the postmaster and its backends),
 * counting descendants that have already exited: their time is in the root's cutime/cstime
 * once reaped. So the difference of two readings is what the tree used in between, even as
 * the pool closes idle connections and opens new ones (new backends, exited backends).
 */
export function treeCpuSeconds(rootPid: number): number {
  const [user, system, childrenUser, childrenSystem] = cpuTicks(rootPid);
  let ticks = user + system + childrenUser + childrenSystem;
  for (const pid of processTree(rootPid)) {
    if (pid === rootPid) continue;
    const [descendantUser, descendantSystem] = cpuTicks(pid);
    ticks += descendantUser + descendantSystem;
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident set size in MB; 0 if the process is gone. */
export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The process and all its descendants (PostgreSQL: the postmaster and its backends). */
function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(parent) ?? [];
      list.push(Number(entry));
      children.set(parent, list);
    } catch {
      // The process ended while we looked.
    }
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Samples a process's RSS until stopped; reports the highest value seen. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}
