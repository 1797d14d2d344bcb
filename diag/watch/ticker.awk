# pfdiag watch: one long-lived awk on the host answers each line on stdin with one snapshot.
#
# Run as `exec awk -v self="$$" -v skip=PID '<this program>'` by diag/watch/ticker.py (the program
# travels inline: nothing is written on the host). Input: one line per tick, "<seq>". Output per tick:
#   T <seq> <uptime_s> <pgfault> <pgmajfault> <pswpin> <zswpin> <processes seen>
#   P <pid> <starttime> <minflt> <cminflt> <majflt> <cmajflt> <comm>   (new, or counters changed)
#   X <pid> <starttime> <ppid>                                         (gone since the last tick)
#   E <seq>
# The previous snapshot stays in this awk's memory, so only changed processes travel: a tick costs a
# few hundred bytes on an idle host. comm may hold spaces, ')' and newlines: split after the last ')',
# join lines until the fields after it are complete, and escape '\' and newline in the output.
function vm(   line, f) {
    pgfault = pgmaj = pswpin = zswpin = "-"
    while ((getline line < "/proc/vmstat") > 0) {
        split(line, f, " ")
        if (f[1] == "pgfault") pgfault = f[2]
        else if (f[1] == "pgmajfault") pgmaj = f[2]
        else if (f[1] == "pswpin") pswpin = f[2]
        else if (f[1] == "zswpin") zswpin = f[2]
    }
    close("/proc/vmstat")
}
function lastparen(s,   p, k) {
    p = 0
    while ((k = index(substr(s, p + 1), ")")) > 0) p += k
    return p
}
function record(line,   p, o, n, f, pid, comm, key) {
    p = lastparen(line)
    if (p == 0) return 0
    n = split(substr(line, p + 2), f, " ")
    if (n < 20) return 0
    o = index(line, " (")
    pid = substr(line, 1, o - 1) + 0
    if (pid == self || f[2] + 0 == self || pid == skip) return 1
    seen++
    comm = substr(line, o + 2, p - o - 2)
    key = f[20] " " f[8] " " f[9] " " f[10] " " f[11]
    now[pid] = 1
    if (pid in prev) {
        if (prev[pid] == key) { pp[pid] = f[2]; return 1 }
        split(prev[pid], old, " ")
        if (old[1] != f[20]) print "X", pid, old[1], pp[pid]
    }
    # the parent travels only when a process is gone: what it had made goes up to whoever reaped it
    pp[pid] = f[2]
    prev[pid] = key
    gsub(/\\/, "&&", comm)  # the match twice: doubles a backslash in every awk (see probe.sh esc)
    gsub(/\n/, "\\n", comm)
    print "P", pid, key, comm
    return 1
}
BEGIN {
    # pfdiag's marker in this awk's command line: a pfdiag probe on this host leaves this watch out
    marker = "@@pfdiag watch"
    # A child sh reads the tick line (sh's `read` takes one line, byte by byte, never more: awk's own
    # buffered reading of stdin would wait for a full buffer on a pipe), echoes it, then cats the stats.
    cmd = "read x || exit 1; echo \"$x\"; exec cat /proc/[0-9]*/stat 2>/dev/null"
    while ((cmd | getline seq) > 0) {
        getline up < "/proc/uptime"
        close("/proc/uptime")
        split(up, u, " ")
        vm()
        seen = 0
        partial = ""
        while ((cmd | getline line) > 0) {
            if (partial != "") line = partial "\n" line
            partial = ""
            if (!record(line)) partial = line
        }
        close(cmd)
        for (pid in prev) if (!(pid in now)) {
            split(prev[pid], old, " ")
            print "X", pid, old[1], pp[pid]
            delete prev[pid]
            delete pp[pid]
        }
        for (pid in now) delete now[pid]
        print "T", seq, u[1], pgfault, pgmaj, pswpin, zswpin, seen
        print "E", seq
        fflush()
    }
}
