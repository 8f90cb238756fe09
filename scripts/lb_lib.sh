#!/usr/bin/env bash
# nginx helpers shared by scripts/deploy_check.sh and scripts/lb_suite.sh; source it after
# scripts/pg_lib.sh (for tree_stop, free_port, wait_http).
#
#   nginx_ensure_installed                 Debian's nginx (apt-get) if there is none
#   nginx_local_conf DIR PORT A B          DIR/nginx.conf: deploy/nginx/nginx.conf with only
#                                          the upstreams (A, B = host:port), the listen address
#                                          (127.0.0.1:PORT), the logs and temp paths changed
#   nginx_start DIR                        nginx in the foreground (not daemonised), its own
#                                          prefix, pid file and logs in DIR; sets NGINX_PID
#   nginx_stop                             graceful QUIT, then tree_stop, by pid

NGINX_BIN=""
nginx_ensure_installed() {
    NGINX_BIN="$(command -v nginx || true)"
    [ -n "$NGINX_BIN" ] || NGINX_BIN=/usr/sbin/nginx
    [ -x "$NGINX_BIN" ] && return 0
    [ "$(id -u)" = 0 ] || return 1
    _lib_log "installing Debian's nginx-light (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get install -y -qq nginx-light >/dev/null 2>&1 || {
        timeout 300 apt-get update -qq >/dev/null 2>&1 &&
            timeout 600 apt-get install -y -qq nginx-light >/dev/null 2>&1
    } || return 1
    [ -x "$NGINX_BIN" ]
}

nginx_local_conf() {
    local dir="$1" port="$2" a="$3" b="$4" src conf
    src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/deploy/nginx/nginx.conf"
    conf="$dir/nginx.conf"
    mkdir -p "$dir/temp"
    sed -e "s|server serve-a:8000 |server $a |" \
        -e "s|server serve-b:8000 |server $b |" \
        -e "s|^\( *\)listen 8080;|\1listen 127.0.0.1:$port;|" \
        -e "s|access_log /dev/stdout;|access_log $dir/access.log;|" \
        -e "s|error_log /dev/stderr warn;|error_log $dir/error.log warn;|" \
        -e "s|^http {|http {\n    client_body_temp_path $dir/temp/body;\n    proxy_temp_path $dir/temp/proxy;\n    fastcgi_temp_path $dir/temp/fastcgi;\n    uwsgi_temp_path $dir/temp/uwsgi;\n    scgi_temp_path $dir/temp/scgi;|" \
        "$src" >"$conf"
    # Every replacement must have happened: a drift of deploy/nginx/nginx.conf fails loudly.
    local want
    for want in "server $a " "server $b " "listen 127.0.0.1:$port;" "access_log $dir/access.log;" \
        "error_log $dir/error.log warn;" "proxy_temp_path $dir/temp/proxy;"; do
        grep -qF "$want" "$conf" || {
            _lib_log "deploy/nginx/nginx.conf changed shape: no '$want' after the rewrite"
            return 1
        }
    done
    if grep -qE 'serve-[ab]:8000|listen 8080' "$conf"; then
        _lib_log "deploy/nginx/nginx.conf: an upstream or listen line was not rewritten"
        return 1
    fi
    # The workers (user nobody when started as root) must reach their temp folders.
    chmod 0755 "$dir" "$dir/temp"
}

nginx_test_conf() {
    local dir="$1"
    "$NGINX_BIN" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g "pid $dir/nginx.pid;"
}

NGINX_PID=""
nginx_start() {
    local dir="$1" i
    "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
        -g "pid $dir/nginx.pid; daemon off;" >"$dir/nginx.out" 2>&1 &
    NGINX_PID=$!
    for ((i = 0; i < 50; i++)); do
        [ -s "$dir/nginx.pid" ] && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    _lib_log "nginx did not start:"
    cat "$dir/nginx.out" "$dir/error.log" >&2 2>/dev/null || true
    return 1
}

nginx_stop() {
    [ -n "$NGINX_PID" ] || return 0
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    tree_stop "$NGINX_PID" 5
    NGINX_PID=""
}
