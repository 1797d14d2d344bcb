# pfdiag deep dive: where in the code do these processes' page faults come from? (POSIX sh)
#
# Usage: sh -c '<this script>' pfdiag INTERVAL_S TOP MATCH PID...
#   MATCH (an ERE, or "" for none) picks the TOP processes whose comm matches, by faults so far.
# Everything perf writes goes to a mktemp -d directory that a trap removes; perf runs with -N (no
# build-id cache in ~/.debug); nothing else is written. perf reduces its data on the host
# (`perf report --stdio`), so only the top symbols and call chains travel.
interval=$1; top=$2; match=$3; shift 3
dir=$(mktemp -d "${TMPDIR:-/tmp}/pfdiag-deepdive.XXXXXX") || { echo "== error mktemp -d failed"; exit 1; }
bg=""
trap 'rm -rf "$dir"' EXIT
# PIPE too: a reader that went away (a dropped connection) must not leave the directory behind. The
# directory goes at once (a SIGKILL may follow soon), and again once perf, stopped, has written its data.
trap 'kill $bg 2>/dev/null; rm -rf "$dir"; wait; rm -rf "$dir"; exit 130' HUP INT TERM PIPE
perf=$(command -v perf 2>/dev/null)
bpftrace=$(command -v bpftrace 2>/dev/null)
tracefs=""
for t in /sys/kernel/tracing /sys/kernel/debug/tracing; do
    [ -r "$t/events/exceptions/page_fault_user/id" ] && { tracefs=$t; break; }
done
echo "== caps"
echo "perf ${perf:--}"
echo "paranoid $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo -)"
echo "uid $(id -u)"
echo "bpftrace ${bpftrace:--}"
echo "tracefs ${tracefs:--}"
if [ -n "$match" ]; then
    # awk is the judge of its own regex: one it refuses would match nothing, silently
    if ! err=$(awk -v re="$match" 'BEGIN { if ("" ~ re) {} }' 2>&1); then
        echo "== error match '$match' is not a regex awk accepts: $(printf '%s\n' "$err" | head -n 1)"
        exit 1
    fi
    # comm may hold spaces and ')': split after the last ')'; rank by cumulative minflt + majflt
    set -- $(cat /proc/[0-9]*/stat 2>/dev/null | awk -v re="$match" -v me=$$ '{
        o = index($0, " ("); p = 0; s = $0
        while ((k = index(substr(s, p + 1), ")")) > 0) p += k
        if (o == 0 || p == 0) next
        pid = substr($0, 1, o - 1); comm = substr($0, o + 2, p - o - 2)
        n = split(substr($0, p + 2), f, " ")
        if (n < 20 || pid == me || f[2] == me || comm !~ re) next
        print f[8] + f[10], pid
    }' | sort -rn | head -n "$top" | awk '{print $2}')
    echo "== matched $*"
fi
events="page-faults,minor-faults,major-faults"
# a tracepoint needs root (or perf_event_paranoid -1): unprivileged, it would fail the whole perf stat
if [ -n "$tracefs" ] && { [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/kernel/perf_event_paranoid)" = -1 ]; }; then
    events="$events,exceptions:page_fault_user"
fi
for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    [ -n "$perf" ] || continue
    "$perf" stat -x, -e "$events" -p "$pid" -o "$dir/stat.$pid" -- sleep "$interval" 2>"$dir/stat.$pid.err" &
    bg="$bg $!"
    # freq=1000: about 1,000 samples/s whatever the fault rate (perf.data stays small)
    "$perf" record -N -q -d -g -e page-faults/freq=1000/ -e major-faults/freq=1000/ -p "$pid" \
        -o "$dir/rec.$pid" -- sleep "$interval" >/dev/null 2>"$dir/rec.$pid.err" &
    bg="$bg $!"
done
if [ -n "$bpftrace" ] && [ $# -gt 0 ]; then
    timeout $((${interval%.*} + 30)) "$bpftrace" -q -e "kprobe:handle_mm_fault { @faults[comm] = count();
        @start[tid] = nsecs; } kretprobe:handle_mm_fault /@start[tid]/ { @latency_us = hist((nsecs - @start[tid]) / 1000);
        delete(@start[tid]); } interval:s:${interval%.*} { exit(); }" >"$dir/bpf" 2>&1 &
    bg="$bg $!"
fi
wait
for pid in "$@"; do
    echo "== pid $pid"
    if [ ! -r "/proc/$pid/stat" ] && [ ! -s "$dir/stat.$pid" ]; then echo "gone"; continue; fi
    echo "comm $(cat "/proc/$pid/comm" 2>/dev/null)"
    echo "exe $(readlink "/proc/$pid/exe" 2>/dev/null)"
    if [ -n "$perf" ]; then
        echo "== stat $pid"
        grep -v '^#' "$dir/stat.$pid" 2>/dev/null | grep -v '^$'
        echo "== stat-error $pid"
        head -n 4 "$dir/stat.$pid.err" 2>/dev/null
        echo "== record-error $pid"
        head -n 4 "$dir/rec.$pid.err" 2>/dev/null
        if [ -s "$dir/rec.$pid" ]; then
            echo "== symbols $pid"
            "$perf" report -i "$dir/rec.$pid" --stdio --no-children --sort dso,sym -g none -v \
                --percent-limit 1 2>/dev/null | grep -E '^# Samples|%' | head -n 40
            echo "== chains $pid"
            "$perf" report -i "$dir/rec.$pid" --stdio --no-children --sort sym \
                -g folded,0,caller,function,percent --percent-limit 2 2>/dev/null |
                grep -E '^# Samples|^[0-9. ]+%' | head -n 60
            echo "== daddr $pid"
            "$perf" report -i "$dir/rec.$pid" --stdio --mem-mode --sort dso_daddr -v \
                --percent-limit 1 2>/dev/null | grep -E '^# Samples|%' | head -n 30
        fi
    fi
    echo "== rollup $pid"
    cat "/proc/$pid/smaps_rollup" 2>/dev/null
    echo "== maps $pid"
    awk '/^[0-9a-f]+-[0-9a-f]+ / { perms = $2; path = ($6 == "" ? "[anon]" : $6); next }
         $1 == "Rss:" && $2 > 0 { print $2, perms, path }' "/proc/$pid/smaps" 2>/dev/null | sort -rn | head -n 8
    echo "== status $pid"
    grep -E '^(VmRSS|VmLck|VmPin|VmSwap|RssAnon|RssFile|RssShmem):' "/proc/$pid/status" 2>/dev/null
done
if [ -n "$bpftrace" ]; then
    echo "== bpftrace"
    head -n 60 "$dir/bpf" 2>/dev/null
fi
echo "== end"
