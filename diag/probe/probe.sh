# pfdiag probe: POSIX sh (dash, busybox ash) + /proc + cat/awk/sleep/find/dd only; writes no files.
# Usage: sh probe.sh MODE INTERVAL_S TOP_N PERF DEADLINE_S [EXCLUDE_PID [EXCLUDE_BOOT_ID [TWICE [ONCE
#        [CAT [FACT_FILES [STATUS_KEYS [LOCKED_MIN_KIB [OCI_ROOT [MEMCG_MAX [BUNDLE_BYTES]]]]]]]]]]]
#   MODE     probe (facts + two samples + reduced per-process deltas), facts, or reduce
#            (run only the per-process reducer over stdin, and the TWICE/ONCE files at its snapshot
#            markers: used by the tests with canned input)
#   PERF     1 to measure the interval with `perf stat -a` when usable, 0 for plain sleep
#   DEADLINE empty for none; else seconds after which the probe kills itself and its children
#   EXCLUDE  a pid left out of the per-process ranking (not its children): the pfdiag controller
#            when it runs on the host it examines; with EXCLUDE_BOOT_ID, only when this host's
#            /proc/sys/kernel/random/boot_id is that one (the controller is on this very machine)
#   TWICE    files read at both snapshots, space-separated `-:PATH` (`z:PATH`: drop all-zero rows;
#            `k:PATH=NAME,...`: only the lines whose first word is NAME or starts with NAME_)
#   ONCE     files read once, after the second snapshot (same form)
#   CAT      files read by cat at both snapshots, so their errno text is kept (PSI)
#   FACT_FILES  `key=PATH ...`: facts that are the first line of a file
#   STATUS_KEYS the /proc/PID/status lines sent for the top processes, e.g. `VmRSS|VmSwap`
#   LOCKED_MIN_KIB  > 0: also list every process with VmLck or VmPin >= this many KiB
#   OCI_ROOT  where the container runtimes keep their state (/ on a real host): the bundles read are
#            OCI_ROOT/run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/config.json (containerd),
#            OCI_ROOT/run/containers/storage/overlay-containers/ID/userdata/config.json (CRI-O) and
#            OCI_ROOT/var/lib/docker/containers/ID/config.v2.json (Docker), for the container ids of
#            the top processes and top workloads only, at most BUNDLE_BYTES of each
#   MEMCG_MAX  leaf memory cgroups whose memory.stat is read at each snapshot (more: said, not read)
# The file lists come from the source modules' declarations (diag/probe/sources.py).
# Output: lines `@@pfdiag <section> [args]` each followed by that section's raw lines;
# the last line is `@@pfdiag end`. diag/probe/sections.py reads it back.

mode=${1:-probe}
interval=${2:-5}
top=${3:-20}
perf=${4:-1}
deadline=${5:-}
exclude=${6:-}
xboot=${7:-}
twice=${8:-}
once=${9:-}
catfiles=${10:-}
factfiles=${11:-}
statuskeys=${12:-VmRSS|VmSwap|VmLck}
lockmin=${13:-0}
ociroot=${14:-/}
memcgmax=${15:-1024}
bundlebytes=${16:-65536}
root=$$
PAD="x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"  # 56 lines of padding (see snap)

if [ -n "$exclude" ] && [ -n "$xboot" ]; then
	boot=
	read -r boot _ 2>/dev/null </proc/sys/kernel/random/boot_id
	# another machine's controller (same pid by chance) is not ours to leave out
	[ "$boot" = "$xboot" ] || exclude=
fi

clk=$(getconf CLK_TCK 2>/dev/null) || clk=
case $clk in '' | *[!0-9]*) clk=100 ;; esac
pagesize=$(getconf PAGESIZE 2>/dev/null) || pagesize=
case $pagesize in '' | *[!0-9]*) pagesize=4096 ;; esac

# Record parsing shared by the reducer and the watchdog. comm may contain spaces, ')' and even
# a newline, so the pid is what precedes the first ' (' and the fields follow the LAST ')'.
# A record is complete once >= 20 fields follow that ')': comm is <= 15 bytes, cannot fake that.
STATLIB='
function lastparen(s,   i, j) {
	i = 0
	while ((j = index(substr(s, i + 1), ")")) > 0) i += j
	return i
}
function statrec(s,   lp, n) {
	lp = lastparen(s)
	if (lp == 0) return 0
	n = split(substr(s, lp + 1), F, " ")
	if (n < 20) return 0
	PID = substr(s, 1, index(s, " (") - 1)
	COMM = substr(s, index(s, "(") + 1, lp - index(s, "(") - 1)
	return 1
}
'

# Per-process reducer. Input: the producer stream (markers, PSI text, perf text, and the raw
# output of `cat /proc/[0-9]*/stat` twice). It passes markers and text through, reads the
# system files itself at each snapshot marker (one process for all reads), and replaces the two
# stat dumps by the top-N processes by majflt delta and by minflt delta, plus totals.
REDUCER='
function wanted(line, K,   n) {
	# the first word, its ":" cut, is a kept name or starts with one and "_" (allocstall_normal)
	n = line
	sub(/[: \t].*/, "", n)
	if (n in K) return 1
	while (sub(/_[^_]*$/, "", n)) if (n in K) return 1
	return 0
}
function emitfile(path, kind, names,   line, ok, f, n, z, k, K, nk) {
	ok = 0
	nk = split(names, f, ",")
	for (k = 1; k <= nk; k++) K[f[k]] = 1
	while ((getline line < path) > 0) {
		if (!ok) { print "@@pfdiag file " path; ok = 1 }
		if (nk && !wanted(line, K)) continue
		if (kind == "disk") {
			# whole rows of zeros carry no information and cost bytes on big hosts
			n = split(line, f, " ")
			z = 1
			for (k = 4; k <= n; k++) if (f[k] != "0") { z = 0; break }
			if (z) continue
		}
		print line
	}
	close(path)
	if (!ok) print "@@pfdiag unreadable " path " cannot read"
}
function emitlist(list,   n, i, f, spec, eq) {
	# `-:PATH`, `z:PATH` (drop all-zero rows) or `k:PATH=NAME,NAME` (only the lines of those names)
	n = split(list, f, " ")
	for (i = 1; i <= n; i++) {
		spec = substr(f[i], 3)
		eq = substr(f[i], 1, 1) == "k" ? index(spec, "=") : 0
		if (eq) emitfile(substr(spec, 1, eq - 1), "", substr(spec, eq + 1))
		else emitfile(spec, substr(f[i], 1, 1) == "z" ? "disk" : "", "")
	}
}
function take(s) {
	if (!statrec(s)) return 0
	# field N of stat is F[N-2]: minflt 10, cminflt 11, majflt 12, cmajflt 13, starttime 22;
	# utime 14, stime 15, cutime 16, cstime 17 (clock ticks: the CPU time the faults are part of)
	if (snap == 0) {
		S0[PID] = F[20]; MIN0[PID] = F[8]; MAJ0[PID] = F[10]; CMIN0[PID] = F[9]; CMAJ0[PID] = F[11]
		UT0[PID] = F[12]; SY0[PID] = F[13]; CUT0[PID] = F[14]; CSY0[PID] = F[15]
		PAR0[PID] = F[2]; COMM0[PID] = COMM
		# another pfdiag probe (or watch) on this host: its awk holds our marker in its command line
		if (pfdiagawk(PID, COMM)) PFAWK[PID] = 1
	} else {
		S1[PID] = F[20]; MIN1[PID] = F[8]; MAJ1[PID] = F[10]; CMIN1[PID] = F[9]; CMAJ1[PID] = F[11]
		UT1[PID] = F[12]; SY1[PID] = F[13]; CUT1[PID] = F[14]; CSY1[PID] = F[15]
		ST[PID] = F[1]; PP[PID] = F[2]; CM[PID] = COMM
	}
	PAR[PID] = F[2]
	return 1
}
function pfdiagawk(p, comm,   f, line, found) {
	# an awk whose command line holds the pfdiag marker: the reducer of another probe or a watch
	if (comm !~ /^(awk|mawk|gawk|nawk|busybox)$/) return 0
	f = "/proc/" p "/cmdline"
	found = 0
	while (!found && (getline line < f) > 0) if (index(line, "@@pfdiag ")) found = 1
	close(f)
	return found
}
function memstat(path,   line, w, f, pf, mf) {
	# the faults of a cgroup, its descendants included (v1 total_*, v2 is hierarchical already), so a
	# container counts the faults of processes that exited before the second snapshot
	f = MEMROOT path "/memory.stat"
	pf = ""; mf = ""
	while ((getline line < f) > 0) {
		split(line, w, " ")
		if (w[1] == (MEMV == 1 ? "total_pgfault" : "pgfault")) pf = w[2]
		else if (w[1] == (MEMV == 1 ? "total_pgmajfault" : "pgmajfault")) mf = w[2]
	}
	close(f)
	if (pf == "" || mf == "") return
	if (snap == 0) { PF0[path] = pf; MF0[path] = mf }
	else { PF1[path] = pf; MF1[path] = mf }
}
function memlisted(line,   path) {
	# one memory.stat path from the listing of snap(): what is left of it once the mount is cut off
	path = substr(line, length(MEMROOT) + 1)
	sub(/\/memory\.stat$/, "", path)
	if (path != "" && substr(line, 1, length(MEMROOT)) == MEMROOT) LISTED[++NLISTED] = path
}
function memleaves(   i, q) {
	# Only the leaves are read (a container, a unit: what a workload is), at most memcgmax of them: the
	# kernel makes memory.stat anew at each read, and a pod or slice above them counts the same faults.
	split("", INNER)
	for (i = 1; i <= NLISTED; i++) {
		q = LISTED[i]
		sub(/\/[^\/]*$/, "", q)
		INNER[q] = 1
	}
	for (i = 1; i <= NLISTED; i++) {
		if (LISTED[i] in INNER) continue
		if (++NMEMCG[snap] > memcgmax + 0) { MEMCUT = 1; break }
		memstat(LISTED[i])
	}
	NLISTED = 0
}
function kept(p) {
	# the same process at both samples (a pid with another start time is another process)
	return (p in S0) && (p in S1) && S0[p] == S1[p]
}
function reaper(p,   d) {
	# the nearest ancestor alive at both samples: what reaped p, or reaped the parent that reaped it
	p = PAR0[p]
	for (d = 0; d < 16 && (p in S0) && !kept(p); d++) p = PAR0[p]
	return p
}
function mark(   p, q, d) {
	# a probe or watch that started during the interval: its awk is pfdiag load too (read now, while
	# it runs: only awks born since the first snapshot, so no second scan of every command line)
	for (p in S1) if (!(p in S0) && pfdiagawk(p, CM[p])) PFAWK[p] = 1
	# The processes of another pfdiag probe are load pfdiag makes, not the host: its awk, the shells
	# above it and the first non-shell above them (the sshd session or pfdiag controller that reaps
	# it). What a process reaps of those during the interval would count as its children: not counted.
	for (p in PFAWK) {
		q = p
		for (d = 0; d < 8 && q != "" && q != "0" && (q in S0); d++) {
			MINE[q] = 1
			if (d > 0 && COMM0[q] !~ /^(sh|dash|ash|bash|ksh|mksh|zsh|busybox)$/) break
			q = PAR0[q]
		}
		# sshd runs a session as a monitor and a child: both are the session, the listener is not
		while (q != "" && COMM0[q] ~ /^sshd/ && COMM0[PAR0[q]] ~ /^sshd/ && (PAR0[PAR0[q]] in S0) \
			&& COMM0[PAR0[PAR0[q]]] ~ /^sshd/) {
			q = PAR0[q]
			MINE[q] = 1
		}
	}
	for (p in MINE) if (!kept(p)) REAPSMINE[reaper(p)] = 1
}
function controller(p,   f, line, s) {
	# a pfdiag controller (python3 -m diag, or the pfdiag script): starting one costs thousands of
	# faults, load that pfdiag makes, not the host. NULs end lines in busybox awk, not in mawk.
	if (CM[p] !~ /^(python|pfdiag)/) return 0
	f = "/proc/" p "/cmdline"
	s = ""
	while ((getline line < f) > 0) { gsub(/[^!-~]/, " ", line); s = s " " line }
	close(f)
	s = s " "
	return s ~ / -m +diag / || s ~ /^ +([^ ]*\/)?pfdiag / || s ~ /^ +[^ ]*python[^ ]* +([^ ]*\/)?pfdiag /
}
function own(p,   d) {
	# the controller that runs us locally (itself only: a workload it started is still measured)
	if (exclude != "" && p == exclude) return 1
	# other pfdiag probes and what runs them (see mark)
	if (p in MINE) return 1
	# the probe itself: the root shell and every descendant (pipeline, cat, sleep, perf); and what
	# the awk of another probe or watch runs (a watch reads /proc through a child at every tick)
	for (d = 0; d < 8 && p != "" && p != "0"; d++) {
		if (p == root || (p in PFAWK)) return 1
		p = PAR[p]
	}
	return 0
}
function esc(s) {
	# "&&" (the match twice) doubles a backslash in every awk; a "\\\\" replacement does in busybox
	# but not in mawk, where b\n\\q came back as b<newline>\q
	gsub(/\\/, "&&", s)
	gsub(/\n/, "\\n", s)
	return s
}
function pickmax(arr, n, round,   p, best, bv, i) {
	# n rounds of "largest not yet taken in this ranking": no sort() in POSIX awk
	for (i = 1; i <= n; i++) {
		best = ""; bv = 0
		for (p in arr) if (RANK[p] != round && arr[p] > bv) { best = p; bv = arr[p] }
		if (best == "") return
		RANK[best] = round
		if (!(best in PICKED)) { PICKED[best] = 1; ORDER[++norder] = best }
	}
}
function reduce(   p, q, dmin, dmaj, cmin, cmaj, dut, dsy, cut, csy, isnew, seen, faulting, sumin, sumaj, i, born, exited, unmatched) {
	mark()
	# A child reaped during the interval adds all the faults of its life to the cminflt of its parent:
	# what it had made by the first sample (its minflt + cminflt then) was made before the interval.
	# So children seen at the first sample and gone at the second are subtracted from the parent delta;
	# a child whose parent exited too (an sshd session: monitor and child) reaches the nearest ancestor
	# still alive, through the parent that reaped it.
	for (p in S0) {
		if (kept(p)) continue
		q = reaper(p)
		PREMIN[q] += MIN0[p] + CMIN0[p]; PREMAJ[q] += MAJ0[p] + CMAJ0[p]
		PREUT[q] += UT0[p] + CUT0[p]; PRESY[q] += SY0[p] + CSY0[p]
	}
	for (p in S1) {
		if (own(p)) continue
		isnew = 0
		if (kept(p)) {
			dmin = MIN1[p] - MIN0[p]; dmaj = MAJ1[p] - MAJ0[p]
			cmin = CMIN1[p] - CMIN0[p]; cmaj = CMAJ1[p] - CMAJ0[p]
			dut = UT1[p] - UT0[p]; dsy = SY1[p] - SY0[p]; cut = CUT1[p] - CUT0[p]; csy = CSY1[p] - CSY0[p]
		} else if (S1[p] / clk >= up0) {
			# born during the interval (or a reused pid): all its faults happened in it
			dmin = MIN1[p]; dmaj = MAJ1[p]; cmin = CMIN1[p]; cmaj = CMAJ1[p]; isnew = 1
			dut = UT1[p]; dsy = SY1[p]; cut = CUT1[p]; csy = CSY1[p]
		} else {
			seen++
			unmatched++
			continue
		}
		if (dmin + cmin > 0 && controller(p)) continue
		seen++
		if (isnew) born++
		if (dmin < 0) dmin = 0
		if (dmaj < 0) dmaj = 0
		if (kept(p)) { cmin -= PREMIN[p]; cmaj -= PREMAJ[p]; cut -= PREUT[p]; csy -= PRESY[p] }
		if (p in REAPSMINE) { cmin = 0; cmaj = 0; cut = 0; csy = 0 }
		if (cmin < 0) cmin = 0
		if (cmaj < 0) cmaj = 0
		if (cut < 0) cut = 0
		if (csy < 0) csy = 0
		NEWP[p] = isnew; DMIN[p] = dmin; DMAJ[p] = dmaj; DCMIN[p] = cmin; DCMAJ[p] = cmaj
		DUT[p] = dut < 0 ? 0 : dut; DSY[p] = dsy < 0 ? 0 : dsy; DCUT[p] = cut; DCSY[p] = csy
		if (dmin + dmaj > 0) { faulting++; sumin += dmin; sumaj += dmaj }
		# ranked by own + children: the faults of workers it reaped during the interval are its own doing
		if (dmin + dmaj + cmin + cmaj > 0) {
			if (dmaj + cmaj > 0) BYMAJ[p] = dmaj + cmaj
			BYMIN[p] = dmin + cmin
		}
	}
	for (p in S0) if (!own(p) && !kept(p)) exited++
	printf "@@pfdiag procs\n"
	printf "totals seen=%d readable=%d hidden=%d vanished=%d faulting=%d born=%d exited=%d unmatched=%d minflt=%.0f majflt=%.0f\n", seen, seen, hidden, vanished, faulting, born, exited, unmatched, sumin, sumaj
	pickmax(BYMAJ, top, 1)
	pickmax(BYMIN, top, 2)
	for (i = 1; i <= norder; i++) {
		p = ORDER[i]
		printf "proc %s %s %s %s %.0f %.0f %d %s\n", p, S1[p], ST[p], PP[p], DMIN[p], DMAJ[p], NEWP[p], esc(CM[p])
		if (DCMIN[p] + DCMAJ[p] > 0) printf "children %s %.0f %.0f\n", p, DCMIN[p], DCMAJ[p]
		printf "cpu %s %.0f %.0f %.0f %.0f\n", p, DUT[p], DSY[p], DCUT[p], DCSY[p]
	}
	if (readfiles) for (i = 1; i <= norder; i++) details(ORDER[i])
	if (readfiles && lockmin + 0 > 0) locked()
	# canned input (mode reduce) may list memory cgroups too: their files are read, like the real ones
	if (MEMROOT != "") workloads()
}
function locked(   p, f, line, w, lck, pin, lim) {
	# every process holding locked or pinned memory: one status read per process, only when asked
	print "@@pfdiag locked"
	for (p in S1) {
		if (own(p)) continue
		f = "/proc/" p "/status"
		lck = "-"; pin = "-"
		while ((getline line < f) > 0) {
			split(line, w, " ")
			if (w[1] == "VmLck:") lck = w[2]
			if (w[1] == "VmPin:") pin = w[2]
		}
		close(f)
		if (!((lck != "-" && lck + 0 >= lockmin + 0) || (pin != "-" && pin + 0 >= lockmin + 0))) continue
		lim = "-"
		f = "/proc/" p "/limits"
		while ((getline line < f) > 0) if (line ~ /^Max locked memory/) { split(line, w, " "); lim = w[4] }
		close(f)
		printf "locked %s %s %s %s %s\n", p, lck, pin, lim, esc(CM[p])
	}
}
function details(p,   line, got, f, v1, v2) {
	print "@@pfdiag pid " p " " S1[p]
	f = "/proc/" p "/status"
	while ((getline line < f) > 0)
		if (line ~ ("^(" statuskeys "):")) print line
	close(f)
	f = "/proc/" p "/limits"
	while ((getline line < f) > 0) if (line ~ /^Max locked memory/) print line
	close(f)
	f = "/proc/" p "/cgroup"
	got = ""; v1 = ""; v2 = ""
	while ((getline line < f) > 0) {
		if (got == "") got = line
		if (line ~ /^0::/) { got = line; v2 = substr(line, 4) }
		if (line ~ /^[0-9]+:([^:]*,)?memory(,[^:]*)?:/) { v1 = line; sub(/^[0-9]+:[^:]*:/, "", v1) }
	}
	close(f)
	if (got != "") print "cgroup " got
	memcg(v1, v2)
}
function one(path,   line, r) {
	r = ""
	if ((getline line < path) > 0) r = line
	close(path)
	return r
}
function keyed(path, key,   line, n, w, r) {
	r = ""
	while ((getline line < path) > 0) { n = split(line, w, " "); if (w[1] == key) r = w[2] }
	close(path)
	return r
}
function memcg(v1, v2,   line, m, d) {
	# The memory cgroup is what limits a workload that faults while the host has memory to spare:
	# v1 memory controller when mounted (also on hybrid hosts), else the unified v2 hierarchy.
	if (!MOUNTS) {
		MOUNTS = 1
		while ((getline line < "/proc/mounts") > 0) {
			split(line, m, " ")
			if (m[3] == "cgroup2" && (CG2 == "" || m[2] == "/sys/fs/cgroup")) CG2 = m[2]
			if (m[3] == "cgroup" && ("," m[4] ",") ~ /,memory,/) CG1 = m[2]
		}
		close("/proc/mounts")
	}
	if (v1 != "" && CG1 != "") {
		WANT[v1] = 1
		d = CG1 (v1 == "/" ? "" : v1)
		print "memcg 1 limit=" one(d "/memory.limit_in_bytes") " usage=" one(d "/memory.usage_in_bytes") \
			" hits=" one(d "/memory.failcnt") " oom_kill=" keyed(d "/memory.oom_control", "oom_kill") " path=" v1
	} else if (v2 != "" && v2 != "/" && CG2 != "") {
		WANT[v2] = 1
		d = CG2 v2
		print "memcg 2 limit=" one(d "/memory.max") " high=" one(d "/memory.high") " usage=" one(d "/memory.current") \
			" hits=" keyed(d "/memory.events", "max") " oom_kill=" keyed(d "/memory.events", "oom_kill") " path=" v2
	}
}
function workloads(   p, q, i, n, dmin, dmaj) {
	# The memory cgroups that matter: the top_n leaves (a container, a unit) by major and by minor
	# faults over the interval, and every leaf holding a top process. A cgroup first seen at the
	# second snapshot was created during the interval: all its faults are in it.
	for (p in PF1) {
		if (p in PF0) { dmin = PF1[p] - PF0[p]; dmaj = MF1[p] - MF0[p] } else { dmin = PF1[p]; dmaj = MF1[p] }
		dmin -= dmaj  # pgfault counts every fault, pgmajfault the major ones among them
		WMIN[p] = dmin < 0 ? 0 : dmin; WMAJ[p] = dmaj < 0 ? 0 : dmaj
		if (WMAJ[p] > 0) LMAJ[p] = WMAJ[p]
		if (WMIN[p] > 0) LMIN[p] = WMIN[p]
	}
	norder = 0
	split("", PICKED)
	pickmax(LMAJ, top, 3)
	pickmax(LMIN, top, 4)
	for (p in WANT) if ((p in PF1) && !(p in PICKED)) { PICKED[p] = 1; ORDER[++norder] = p }
	printf "@@pfdiag workloads %d %d %d %s\n", MEMV, NMEMCG[1], MEMCUT, MEMROOT
	for (i = 1; i <= norder; i++) {
		p = ORDER[i]
		printf "memcg %d %.0f %.0f %s\n", !(p in PF0), WMIN[p], WMAJ[p], p
		n = cid(p)
		if (n != "" && !(n in BUNDLED)) { BUNDLED[n] = 1; bundle(n, RUNTIME, p) }
	}
}
function cid(path,   last) {
	# the container id a runtime names its cgroup after: <id>, docker-<id>.scope, cri-containerd-<id>.scope,
	# crio-<id>.scope (64 hex digits); the controller reads the rest of the path
	last = path
	sub(/^.*\//, "", last)
	sub(/\.scope$/, "", last)
	RUNTIME = ""
	if (sub(/^cri-containerd-/, "", last)) RUNTIME = "containerd"
	else if (sub(/^crio-/, "", last)) RUNTIME = "crio"
	else if (sub(/^docker-/, "", last)) RUNTIME = "docker"
	else if (path ~ /\/docker\//) RUNTIME = "docker"
	else if (path ~ /kubepods/) RUNTIME = "kube"
	if (length(last) != 64 || last ~ /[^0-9a-f]/ || RUNTIME == "") return ""
	return last
}
function bundle(id, runtime, path,   r) {
	r = ociroot
	sub(/\/$/, "", r)
	if (runtime == "containerd" || runtime == "kube")
		if (readbundle(id, r "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" id "/config.json")) return
	if (runtime == "crio" || runtime == "kube")
		if (readbundle(id, r "/run/containers/storage/overlay-containers/" id "/userdata/config.json")) return
	# a kubelet cgroupfs path does not say its runtime: containerd, CRI-O, then Docker (dockershim)
	if (runtime == "docker" || runtime == "kube") readbundle(id, r "/var/lib/docker/containers/" id "/config.v2.json")
}
function readbundle(id, f,   cmd, line, got, key, why) {
	# Only the first bundlebytes of the file (an OCI spec holds the whole seccomp profile and env), and
	# of it only the name keys: runtimes write it as one line, so match them anywhere in it.
	cmd = "dd if=\047" f "\047 bs=" bundlebytes " count=1 2>/dev/null"
	got = 0; key = 0
	while ((cmd | getline line) > 0) {
		got = 1
		while (match(line, /"(io\.kubernetes\.(cri\.(sandbox-namespace|sandbox-name|container-name|container-type)|pod\.(namespace|name)|container\.name|cri-o\.ContainerType)|Name)":"[^"]*"/)) {
			print "bundle-key " id " " substr(line, RSTART, RLENGTH)
			key = 1
			line = substr(line, RSTART + RLENGTH)
		}
	}
	close(cmd)
	if (got) { print "bundle " id " ok " (key ? "keys" : "nokeys") " " f; return 1 }
	why = ""
	cmd = "cat \047" f "\047 2>&1 >/dev/null"
	while ((cmd | getline line) > 0) if (why == "") { why = line; sub(/^.*: /, "", why) }
	close(cmd)
	print "bundle " id " unreadable " f " " (why == "" ? "empty" : why)
	return 0
}
BEGIN {
	snap = -1; instat = 0; inmem = 0; pend = ""
	if (memcgmax == "") memcgmax = 1024
	if (bundlebytes == "") bundlebytes = 65536
	if (ociroot == "") ociroot = "/"
}
/^@@pfdiag pad/ { next }
/^@@pfdiag memcgs / { inmem = 1; MEMV = $3 + 0; MEMROOT = substr($0, length("@@pfdiag memcgs " $3 " ") + 1); next }
/^@@pfdiag memcgs-end$/ { inmem = 0; memleaves(); next }
inmem { memlisted($0); next }
/^@@pfdiag snap / { snap = $3 + 0; if (snap == 0) up0 = $4 + 0; print; emitlist(twice); next }
/^@@pfdiag stat$/ { instat = 1; pend = ""; next }
/^@@pfdiag stat-end$/ {
	instat = 0; pend = ""
	if (snap == 1) { emitlist(once); reduce() }
	next
}
instat {
	if (pend != "") {
		pend = pend "\n" $0
		if (take(pend)) pend = ""
		next
	}
	if ($0 ~ /^[0-9]+ \(/) { if (!take($0)) pend = $0; next }
	# cat reports unreadable stat files inline: hidepid=1 or a process that exited meanwhile
	if (snap == 1 && $0 ~ /denied/) hidden++
	else if (snap == 1) vanished++
	next
}
{ print }
'

# Print the descendants of pid $1 (from every readable stat record), for the watchdog.
TREE='
{ if (statrec($0)) PAR[PID] = F[2] }
END {
	for (p in PAR) {
		q = p
		for (d = 0; d < 8 && q != "" && q != "0"; d++) {
			q = PAR[q]
			if (q == top) { print p; break }
		}
	}
}
'

perfcheck() {
	uid=$(id -u 2>/dev/null) || uid=
	paranoid=
	# dash's read can return 1 on procfs files although it read the value: judge the value itself
	read -r paranoid _ </proc/sys/kernel/perf_event_paranoid 2>/dev/null
	case $paranoid in '' | *[!0-9-]*) paranoid= ;; esac
	perf_usable=0
	if [ "$perf" != 1 ]; then
		perf_reason="not requested"
	elif ! command -v perf >/dev/null 2>&1; then
		perf_reason="not installed"
	elif [ "$uid" = 0 ]; then
		perf_usable=1 perf_reason=
	elif [ -n "$paranoid" ] && [ "$paranoid" -le 0 ] 2>/dev/null; then
		perf_usable=1 perf_reason=
	else
		perf_reason="not permitted: paranoid=${paranoid:-unknown} and not root"
	fi
}

facts() {
	blockdevs=
	for d in /sys/block/*; do [ -e "$d" ] && blockdevs="$blockdevs ${d##*/}"; done
	echo "@@pfdiag facts"
	awk -v clk="$clk" -v pagesize="$pagesize" -v uid="$uid" -v perf_usable="$perf_usable" \
		-v perf_reason="$perf_reason" -v blockdevs="$blockdevs" -v factfiles="$factfiles" '
	function first(path, key,   line) {
		if ((getline line < path) > 0) print key "=" line
		else print "!" key "=unreadable " path
		close(path)
	}
	BEGIN {
		nf = split(factfiles, ff, " ")
		for (i = 1; i <= nf; i++) first(substr(ff[i], index(ff[i], "=") + 1), substr(ff[i], 1, index(ff[i], "=") - 1))
		n = 0
		while ((getline line < "/proc/stat") > 0) if (line ~ /^cpu[0-9]/) n++
		close("/proc/stat")
		print "cpus=" n
		print "clk_tck=" clk
		while ((getline line < "/proc/meminfo") > 0) {
			split(line, m, " ")
			if (m[1] == "MemTotal:") print "mem_total_kib=" m[2]
			if (m[1] == "SwapTotal:") print "swap_total_kib=" m[2]
		}
		close("/proc/meminfo")
		print "page_size=" pagesize
		print "uid=" uid
		t = "/sys/kernel/mm/transparent_hugepage"
		if ((getline line < (t "/enabled")) <= 0) t = "/sys/kernel/mm/redhat_transparent_hugepage"
		close(t "/enabled")
		first(t "/enabled", "thp_enabled")
		first(t "/defrag", "thp_defrag")
		cg = "1"; hp = "none"
		while ((getline line < "/proc/mounts") > 0) {
			split(line, m, " ")
			if (m[2] == "/proc" && m[3] == "proc" && match(m[4], /hidepid=[^,]*/))
				hp = substr(m[4], RSTART + 8, RLENGTH - 8)
			if (m[2] == "/sys/fs/cgroup" && m[3] == "cgroup2") cg = "2"
			if (m[2] == "/sys/fs/cgroup/unified" && m[3] == "cgroup2" && cg != "2") cg = "hybrid"
		}
		close("/proc/mounts")
		print "cgroup_version=" cg
		print "hidepid=" hp
		print "perf_usable=" perf_usable
		print "perf_reason=" perf_reason
		print "blockdevs=" blockdevs
	}'
}

# PSI files: read by cat so that ENOENT (no PSI) and EOPNOTSUPP (psi=0) keep their errno text.
psi() {
	for f in $catfiles; do
		if t=$(cat "$f" 2>&1); then
			printf '@@pfdiag file %s\n%s\n' "$f" "$t"
		else
			printf '@@pfdiag unreadable %s %s\n' "$f" "${t##*: }"
		fi
	done
}

# The memory controller (the v1 mount when there is one, hybrid hosts too, else cgroup2): find lists
# every cgroup, the reducer reads the memory.stat of the leaves.
memroot() {
	cg1= cg2=
	while read -r _ mnt fs opts _; do
		case $fs in
		cgroup2) if [ -z "$cg2" ] || [ "$mnt" = /sys/fs/cgroup ]; then cg2=$mnt; fi ;;
		cgroup) case ,$opts, in *,memory,*) cg1=$mnt ;; esac ;;
		esac
	done </proc/mounts
	if [ -n "$cg1" ]; then memv=1 memdir=$cg1; else memv=2 memdir=$cg2; fi
}

memcgs() {
	[ -n "$memdir" ] || return 0
	echo "@@pfdiag memcgs $memv $memdir"
	# find skips files by their directory entry type: a shell glob 7 levels deep stat()ed every file of
	# every cgroup (2.4 s for 500 cgroups here, find 0.1 s)
	find "$memdir" -name memory.stat 2>/dev/null
	echo "@@pfdiag memcgs-end"
}

snap() {
	up=
	read -r up _ </proc/uptime
	echo "@@pfdiag snap $1 $up"
	psi
	memcgs
	echo "@@pfdiag stat"
	cat /proc/[0-9]*/stat 2>&1
	echo "@@pfdiag stat-end"
	# mawk reads a pipe until its 4 KiB buffer is full: without 5 KB of padding the end of the first
	# snapshot would be parsed after the interval, and the command lines it reads then be gone
	[ "$1" = 0 ] && printf '@@pfdiag pad %76s\n' $PAD
	return 0
}

pause() {
	if [ "$perf_usable" = 1 ]; then
		# perf's counts go to stderr; stdout of sleep is empty. No files are written.
		if out=$(perf stat -a -x, -e page-faults,minor-faults,major-faults -- sleep "$interval" 2>&1 >/dev/null); then
			echo "@@pfdiag perf ok"
			printf '%s\n' "$out"
			return
		fi
		printf '@@pfdiag perf failed %s\n' "$(printf '%s\n' "$out" | sed -n '$p')"
	else
		echo "@@pfdiag perf unused $perf_reason"
	fi
	sleep "$interval"
}

probe() {
	# version 2: `children` rows after `proc` rows, files from the source declarations;
	# version 3: of /proc/vmstat and /proc/meminfo only the lines the parsers read (`k:` files)
	echo "@@pfdiag probe 3 interval=$interval top=$top"
	facts
	memroot
	snap 0
	pause
	snap 1
}

main() {
	case $mode in
	facts) perfcheck; facts ;;
	reduce) awk -v root="$root" -v exclude="$exclude" -v clk="$clk" -v top="$top" -v readfiles=0 -v lockmin=0 \
		-v twice="$twice" -v once="$once" "$STATLIB$REDUCER" ;;
	*)
		perfcheck
		probe | awk -v root="$root" -v exclude="$exclude" -v clk="$clk" -v top="$top" -v readfiles=1 \
			-v twice="$twice" -v once="$once" -v statuskeys="$statuskeys" -v lockmin="$lockmin" \
			-v ociroot="$ociroot" -v memcgmax="$memcgmax" -v bundlebytes="$bundlebytes" "$STATLIB$REDUCER"
		;;
	esac
	echo "@@pfdiag end"
}

if [ -z "$deadline" ]; then
	main
	exit
fi

main &
work=$!
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$deadline" >/dev/null 2>&1 &
	s=$!
	wait "$s"
	# Past the deadline: the controller has given up, so leave nothing running on the host.
	kids=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v top="$work" "$STATLIB$TREE")
	echo "@@pfdiag watchdog fired after ${deadline}s"
	kill -TERM $kids "$work" 2>/dev/null
	sleep 1
	kill -KILL $kids "$work" 2>/dev/null
) &
dog=$!
wait "$work"
rc=$?
kill "$dog" 2>/dev/null
exit $rc
