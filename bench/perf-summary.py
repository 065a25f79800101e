#!/usr/bin/env python3
"""Where corsproxy's CPU time goes, from `perf script -F comm,tid,ip,sym,dso` on stdin (bench/run --profile).

Each sample goes to the first category (most specific first) that one of its stack frames matches, by a substring
of the (mangled) Swift or C symbol. Percentages are of all samples of the process; the curl thread's libcurl
frames have no frame pointers, so record with --call-graph dwarf for a finer split inside libcurl."""
import sys, re
from collections import Counter

CATEGORIES = [
    ("Link/Location rewrite (Router.rewriteLink/rewrite, UpstreamURL parse)", ["RouterV11rewriteLink", "RouterV7rewrite_"]),
    ("upstream response header filter (HeaderFilter.responseHeaders, excl. rewrite)", ["HeaderFilterO15responseHeaders"]),
    ("rest of writeUpstreamHead (CORS headers, Vary merge, HTTPHeaders)", ["writeUpstreamHead"]),
    ("Exchange.log (metadata built even at --log-level warning)", ["ExchangeV3log"]),
    ("CORS judge (Origin parse + match)", ["CORSPolicyV5judge"]),
    ("request header filter, upstream URL, TransferRequest", ["HeaderFilterO14requestHeaders", "RouterV11upstreamURL", "bodyFraming", "TransferRequestV"]),
    ("hop NIO→curl: CurlLoop.submit (Mutex, curl_multi_wakeup)", ["CurlLoopC6submit"]),
    ("curl header callback (ResponseHeadParser, Strings)", ["ResponseHeadParser", "receiveHeaderLine"]),
    ("curl write callback (body copy into ByteBuffer, mailbox)", ["TransferC13writeCallback", "receiveBody"]),
    ("transfer set-up (curl_easy_init, setopt, slist)", ["TransferC9configure", "CurlLoopC6attach"]),
    ("transfer tear-down (remove_handle, easy_cleanup, release)", ["CurlLoopC6detach", "CurlLoopC7release", "reapCompleted"]),
    ("hop curl→NIO: flush + EventLoop.execute", ["TransferC5flush", "CurlLoopC10flushDirty", "SelectableEventLoopC7NIOCore0cD0AadEP7execute", "_schedule0"]),
    ("socket write syscalls (writev/write/send, loopback TCP)", ["writev", "__send", "sendmsg", "__libc_write", "sendto"]),
    ("socket read syscalls (read/recv)", ["__libc_read", "__libc_recv", "sock_recvmsg", "recvfrom", "readv"]),
    ("NIO response encode (encoder, header validator, pipeline handler)", ["HTTPResponseEncoder", "HTTPResponseHeadersValidator", "HTTPServerPipelineHandlerC5write", "HTTPServerProtocolErrorHandlerC5write"]),
    ("preflight answer (CORSPolicy.preflight, ProxyResponse, Vary)", ["answerPreflight", "CORSPolicyV9preflight"]),
    ("rest of ProxyHandler (route, endResponse, promises, exchange bookkeeping)", ["ProxyHandler", "RequestPlan"]),
    ("NIO HTTP request parse (llhttp → HTTPRequestHead, pipeline handler)", ["HTTPDecoder", "llhttp", "HTTPServerPipelineHandler"]),
    ("waiting: epoll/poll, futex, context switches", ["epoll_wait", "__poll", "do_sys_poll", "futex", "schedule", "finish_task_switch"]),
    ("libcurl multi internals (perform, conn cache, parsing)", ["curl_multi", "libcurl", "CurlLoopC03run"]),
]

def main():
    counts = Counter()
    per_thread = {}
    threads = Counter()
    total = 0
    stack = []
    header = None
    def flush():
        nonlocal total
        if header is None:
            return
        total += 1
        threads[header] += 1
        joined = "\n".join(stack)
        group = "NIO event loops" if header.startswith("NIO") else "other threads (curl loop, dispatch)"
        pt = per_thread.setdefault(group, Counter())
        for name, needles in CATEGORIES:
            if any(n in joined for n in needles):
                counts[name] += 1
                pt[name] += 1
                return
        counts["other (runtime, NIO event loop, allocator …)"] += 1
        pt["other (runtime, NIO event loop, allocator …)"] += 1
    for line in sys.stdin:
        if not line.strip():
            flush(); header = None; stack = []
            continue
        if not line.startswith((" ", "\t")):
            flush(); stack = []
            header = line.split()[0]
            continue
        stack.append(line.strip())
    flush()
    print(f"{total} samples")
    for name, n in threads.most_common():
        print(f"  thread {name:20s} {100*n/total:5.1f}%")
    for name, n in counts.most_common():
        print(f"{100*n/total:5.1f}%  {name}")
    for group, pt in per_thread.items():
        g = sum(pt.values())
        print(f"\n{group}: {100*g/total:.1f}% of samples")
        for name, n in pt.most_common(8):
            print(f"  {100*n/total:5.1f}%  {name}")

main()
