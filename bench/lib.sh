# Shell helpers shared by the bench scripts; sourced, not run.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# COUNT free loopback ports on one line, all bound at once so they are distinct.
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# CPU time a process has used so far (user + system, in clock ticks); 0 once it is gone.
proc_busy() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# render_template TEMPLATE PORT [LOG_PORT]: the bench/*.template file on stdout, with @PORT@ and @LOG_PORT@ replaced by
# the arguments and @DIR@, @STATUS_PORT@, @UPSTREAM_PORT@, @POST_LOG@ by the caller's $work, $status_port,
# $upstream_port and $post_log (default off); @NOFILE@ is ulimit -n.
render_template() {
    sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$2|g" -e "s|@STATUS_PORT@|${status_port:-0}|g" \
        -e "s|@UPSTREAM_PORT@|${upstream_port:-0}|g" -e "s|@LOG_PORT@|${3:-0}|g" \
        -e "s|@POST_LOG@|${post_log:-off}|g" -e "s|@NOFILE@|$(ulimit -n)|g" "$1"
}

# release_corsproxy NAME BUILD: prints the path of the release corsproxy the benchmarks measure. BENCH_CORSPROXY_BIN
# when set; otherwise .build-bench/release/corsproxy, built first when BUILD is 1 (its own scratch path: another
# build may be running in .build, and two SwiftPM builds in one scratch path break each other). Run from the
# repository's root; NAME prefixes the messages. Returns 2 when the build fails or there is no binary.
release_corsproxy() {
    local name=$1 build=$2 bin log
    if [ -n "${BENCH_CORSPROXY_BIN:-}" ]; then
        bin=$BENCH_CORSPROXY_BIN
    else
        bin="$PWD/.build-bench/release/corsproxy"
        if [ "$build" = 1 ]; then
            echo "building corsproxy (release, --scratch-path .build-bench)…" >&2
            log=$(mktemp)
            if ! swift build -c release --static-swift-stdlib --product corsproxy --scratch-path "$PWD/.build-bench" \
                >"$log" 2>&1; then
                tail -40 "$log" >&2
                rm -f "$log"
                echo "$name: build failed" >&2
                return 2
            fi
            rm -f "$log"
        fi
    fi
    [ -x "$bin" ] || { echo "$name: no corsproxy binary at $bin" >&2; return 2; }
    echo "$bin"
}
