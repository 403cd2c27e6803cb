#!/usr/bin/env bash
# mail-server.sh - a throwaway, loopback-only mail system for integration tests
# (sim/tests/it/mail_postfix.rs) and for trying `bazaar sim` against a real mail server.
# Adapted from the verified recipe the project was started from; the pitfalls it
# handles (chroot-free master.cf, postlog, detached daemons, auth penalties, session
# limits) are commented where they are handled.
#
#   client --SMTP--> Postfix 127.0.0.1:$BAZAAR_SMTP_PORT
#                    --LMTP (unix socket)--> Dovecot --> Maildir per user
#   client --IMAP--> Dovecot 127.0.0.1:$BAZAAR_IMAP_PORT (plain LOGIN / AUTH PLAIN)
#
# Usage (as root, no systemd needed):
#   mail-server.sh start     # (re)create everything under $BAZAAR_MAIL_DIR and start
#   mail-server.sh stop      # stop both daemons (mailboxes and logs are kept)
#   mail-server.sh status
#   mail-server.sh imap-stop   # stop Dovecot only (IMAP down; Postfix queues incoming mail)
#   mail-server.sh imap-start  # start it again on the same mailboxes, deliver what queued
#   mail-server.sh install   # only install the Debian packages
#
# `start` installs the packages if missing, stops a previous instance, wipes
# $BAZAAR_MAIL_DIR (empty mailboxes every time), and returns once SMTP and IMAP
# answer. All config lives in $BAZAAR_MAIL_DIR; nothing in /etc is edited.
# It writes $BAZAAR_MAIL_DIR/env (KEY=VALUE lines) for the tests to read.
#
# Settings (environment):
#   BAZAAR_MAIL_DIR       /tmp/bazaar-mail
#   BAZAAR_MAIL_DOMAIN    bazaar.test
#   BAZAAR_MAIL_USERS     "agent seller1 seller2 seller3 seller4 seller5"
#   BAZAAR_MAIL_PASSWORD  password          (same for every user; no ':' allowed)
#   BAZAAR_SMTP_PORT      2525
#   BAZAAR_IMAP_PORT      1143
#   BAZAAR_IMAPS_PORT     0   (with BAZAAR_MAIL_TLS=1: also IMAP over implicit TLS here)
#   BAZAAR_MAIL_TLS       0   (1 = also offer STARTTLS with a self-signed cert;
#                              plain-text login keeps working either way)
#   BAZAAR_MAIL_CATCHALL  ""  (a user name, e.g. world: that account is added and every
#                              other address of the domain is delivered to it, so a
#                              simulated world can read the mail of all its people; the
#                              users above keep their own mailboxes)
set -euo pipefail
# Postfix's queue and Dovecot's config must be readable by their own users whatever the
# caller's mask (bazaar runs with 077: everything it creates is the owner's alone).
umask 022
# postfix, dovecot, doveconf live in /usr/sbin, which a CI PATH may lack
export PATH="/usr/sbin:/sbin:$PATH"

MAIL_DIR=${BAZAAR_MAIL_DIR:-/tmp/bazaar-mail}
DOMAIN=${BAZAAR_MAIL_DOMAIN:-bazaar.test}
USERS=${BAZAAR_MAIL_USERS:-"agent seller1 seller2 seller3 seller4 seller5"}
PASSWORD=${BAZAAR_MAIL_PASSWORD:-password}
SMTP_PORT=${BAZAAR_SMTP_PORT:-2525}
IMAP_PORT=${BAZAAR_IMAP_PORT:-1143}
TLS=${BAZAAR_MAIL_TLS:-0}
IMAPS_PORT=${BAZAAR_IMAPS_PORT:-0}
CATCHALL=${BAZAAR_MAIL_CATCHALL:-}
case "$CATCHALL" in *[!a-z0-9._-]*) echo "BAZAAR_MAIL_CATCHALL must be a bare user name" >&2; exit 1;; esac
[ -z "$CATCHALL" ] || USERS="$USERS $CATCHALL"
VMAIL_USER=mail                      # existing Debian system user (uid 8) owns the Maildirs

P=$MAIL_DIR/postfix                  # postfix config_directory (must stay root-owned,
PQ=$MAIL_DIR/postfix-spool           #   so queue and data dirs live beside it, not in it)
PDATA=$MAIL_DIR/postfix-data
D=$MAIL_DIR/dovecot                  # dovecot config + base_dir ($D/run)
MARKER=$MAIL_DIR/.bazaar-mail-dir    # only a dir carrying this marker is ever wiped

log() { printf 'mail-server: %s\n' "$*" >&2; }
CLEANUP_ON_DIE=0
die() { log "ERROR: $*"; if [ "$CLEANUP_ON_DIE" = 1 ]; then do_stop; fi; exit 1; }

# ---------------------------------------------------------------- install
have_packages() {
  command -v postfix >/dev/null 2>&1 && [ -x /usr/sbin/dovecot ] &&
    [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/lmtp ]
}

do_install() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  log "installing postfix dovecot-imapd dovecot-lmtpd (apt-get)"
  # "No configuration": the package then writes no /etc/postfix/main.cf and
  # starts no system-wide Postfix; we run our own instance from $MAIL_DIR.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep the packages' postinst from starting system-wide daemons (the
  # Debian dovecot one would grab 143/993). Only added if none exists.
  local added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      log "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      postfix dovecot-imapd dovecot-lmtpd
  } || rc=$?
  [ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get failed (rc=$rc)"
}

# ---------------------------------------------------------------- helpers
# 0 if something accepts TCP connections on 127.0.0.1:$1
port_open() { (exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1"); }

# print the greeting line of the server on 127.0.0.1:$1, then send $2 and close
greeting() (
  exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  IFS= read -r -t 3 line <&3 || exit 1
  printf '%s\r\n' "$2" >&3
  printf '%s\n' "${line%$'\r'}"
)

# Run a command that leaves daemons behind with stdin/stdout/stderr on a log
# file and every other inherited descriptor closed. Dovecot keeps the stderr
# it was started with (and any other open fd) for its whole life, so without
# this `mail-server.sh start | tee x` or `out=$(mail-server.sh start)` never ends.
detached() {
  local out=$1; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@" </dev/null >>"$out" 2>&1
  )
}

dovecot_pid() {  # pid of our dovecot master, if it is running
  local pid
  pid=$(cat "$D/run/master.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dovecot ] && echo "$pid"
}

postfix_running() { [ -f "$P/main.cf" ] && postfix -c "$P" status >/dev/null 2>&1; }

# ---------------------------------------------------------------- stop
do_stop() {
  if postfix_running; then
    log "stopping postfix"
    postfix -c "$P" stop >/dev/null 2>&1 || true
  fi
  dovecot_stop
}

dovecot_stop() {
  local pid i children
  if pid=$(dovecot_pid); then
    # Its imap, auth and log processes outlive the master here; a restarted server must drop
    # its clients' sessions as a real restart does, so they go with it.
    children=$(pgrep -P "$pid" || true)
    log "stopping dovecot (pid $pid)"
    dovecot -c "$D/dovecot.conf" stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "dovecot did not exit, killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    # shellcheck disable=SC2086
    [ -z "$children" ] || kill -KILL $children 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------- config
write_config() {
  local uid gid u
  uid=$(id -u "$VMAIL_USER"); gid=$(id -g "$VMAIL_USER")

  mkdir -p "$MAIL_DIR" "$P" "$PQ" "$D" "$MAIL_DIR/mail"   # postfix needs its queue dir to exist
  chmod 755 "$MAIL_DIR" "$P" "$D"
  touch "$MARKER"
  chown "$uid:$gid" "$MAIL_DIR/mail"; chmod 700 "$MAIL_DIR/mail"

  # users: one passwd-file serves Dovecot's passdb and userdb,
  # vmailbox tells Postfix which recipients exist (texthash: no postmap needed)
  : > "$D/users"; : > "$P/vmailbox"; : > "$P/virtual"
  for u in $USERS; do
    printf '%s@%s:{PLAIN}%s::::::\n' "$u" "$DOMAIN" "$PASSWORD" >> "$D/users"
    printf '%s@%s OK\n' "$u" "$DOMAIN" >> "$P/vmailbox"
    # With a catch-all, each account's own address must map to itself first: a
    # domain-wide alias would otherwise take their mail too.
    printf '%s@%s %s@%s\n' "$u" "$DOMAIN" "$u" "$DOMAIN" >> "$P/virtual"
  done
  [ -z "$CATCHALL" ] || printf '@%s %s@%s\n' "$DOMAIN" "$CATCHALL" "$DOMAIN" >> "$P/virtual"
  chmod 640 "$D/users"; chown root:dovecot "$D/users"

  local dovecot_ssl="ssl = no" postfix_tls="smtpd_tls_security_level = none" imaps_port=0
  [ "$TLS" = 1 ] && imaps_port=$IMAPS_PORT
  if [ "$TLS" = 1 ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mail.$DOMAIN" \
      -keyout "$MAIL_DIR/tls.key" -out "$MAIL_DIR/tls.crt" >/dev/null 2>&1
    chmod 600 "$MAIL_DIR/tls.key"
    dovecot_ssl="ssl = yes
ssl_cert = <$MAIL_DIR/tls.crt
ssl_key = <$MAIL_DIR/tls.key"
    postfix_tls="smtpd_tls_security_level = may
smtpd_tls_cert_file = $MAIL_DIR/tls.crt
smtpd_tls_key_file = $MAIL_DIR/tls.key"
  fi

  cat > "$D/dovecot.conf" <<EOF
# generated by mail-server.sh
instance_name = bazaar-mail
base_dir = $D/run
state_dir = $D/state
log_path = $MAIL_DIR/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
$dovecot_ssl
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
# tests that try a wrong password should not wait the default 2 s
auth_failure_delay = 0
# "agent" logs in as agent@$DOMAIN
auth_default_realm = $DOMAIN
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $D/users
  default_fields = uid=$uid gid=$gid home=$MAIL_DIR/mail/%d/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
# no per-IP auth penalty: after a few failed logins from 127.0.0.1 Dovecot
# would otherwise delay EVERY login (good ones too) by 4-15 s
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-smtp {
    mode = 0666
  }
}
protocol imap {
  # parallel tests open many sessions for one user from 127.0.0.1 (default 10)
  mail_max_userip_connections = 1000
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
EOF

  cat > "$P/main.cf" <<EOF
# generated by mail-server.sh
compatibility_level = 3.6
queue_directory = $PQ
data_directory = $PDATA
maillog_file = $MAIL_DIR/postfix.log
maillog_file_prefixes = $MAIL_DIR
myhostname = mail.$DOMAIN
mydomain = $DOMAIN
myorigin = $DOMAIN
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP
# no reverse DNS of clients: nothing here may depend on a resolver
smtpd_peername_lookup = no
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$P/vmailbox
virtual_alias_maps = texthash:$P/virtual
virtual_transport = lmtp:unix:$D/run/lmtp
# nothing ever leaves this machine: other domains are refused at RCPT time
smtpd_relay_restrictions = reject_unauth_destination
default_transport = error:outside $DOMAIN is not delivered by this test server
relay_transport = error:outside $DOMAIN is not delivered by this test server
local_transport = error:no local delivery
# optional SMTP AUTH (PLAIN/LOGIN) against the same users, via Dovecot
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/run/auth-smtp
smtpd_tls_auth_only = no
$postfix_tls
EOF

  # own master.cf: Debian's default chroots most services (needs files copied
  # into the queue dir); here nothing is chrooted, SMTP listens on loopback only
  cat > "$P/master.cf" <<EOF
# generated by mail-server.sh
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
lmtp       unix  - - n - - lmtp
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}

# ---------------------------------------------------------------- start
do_start() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  case "$MAIL_DIR" in /*) ;; *) die "BAZAAR_MAIL_DIR must be an absolute path";; esac
  [ "$MAIL_DIR" != / ] || die "BAZAAR_MAIL_DIR must not be /"
  have_packages || do_install
  have_packages || die "postfix/dovecot still missing after install"

  do_stop   # a previous instance of ours, if any

  local port
  for port in "$SMTP_PORT" "$IMAP_PORT"; do
    if port_open "$port"; then
      die "127.0.0.1:$port is already in use by another program: $(ss -Hltnp "sport = :$port" 2>/dev/null | tr -s ' ')"
    fi
  done

  if [ -e "$MAIL_DIR" ]; then
    if [ -f "$MARKER" ] || [ -z "$(ls -A "$MAIL_DIR")" ]; then
      rm -rf "$MAIL_DIR"
    else
      die "$MAIL_DIR exists and was not made by this script; refusing to wipe it"
    fi
  fi
  write_config

  doveconf -c "$D/dovecot.conf" -n >/dev/null || die "bad dovecot config"
  CLEANUP_ON_DIE=1   # from here on, a failure stops whatever did start
  detached "$MAIL_DIR/dovecot.start.log" dovecot -c "$D/dovecot.conf" ||
    die "dovecot failed to start: $(cat "$MAIL_DIR/dovecot.start.log"; tail -5 "$MAIL_DIR/dovecot.log")"
  local i
  for i in $(seq 100); do [ -S "$D/run/lmtp" ] && [ -S "$D/run/auth-smtp" ] && break; sleep 0.1; done
  [ -S "$D/run/lmtp" ] || die "dovecot LMTP socket missing, see $MAIL_DIR/dovecot.log"

  detached "$MAIL_DIR/postfix.start.log" postfix -c "$P" start ||
    die "postfix failed to start: $(cat "$MAIL_DIR/postfix.start.log"; tail -5 "$MAIL_DIR/postfix.log")"

  local smtp="" imap=""
  for i in $(seq 100); do
    [ -n "$smtp" ] || smtp=$(greeting "$SMTP_PORT" QUIT) || true
    [ -n "$imap" ] || imap=$(greeting "$IMAP_PORT" "a LOGOUT") || true
    [[ "$smtp" == 220* && "$imap" == "* OK"* ]] && break
    sleep 0.1
  done
  [[ "$smtp" == 220* ]] || die "SMTP not answering on 127.0.0.1:$SMTP_PORT, see $MAIL_DIR/postfix.log"
  [[ "$imap" == "* OK"* ]] || die "IMAP not answering on 127.0.0.1:$IMAP_PORT, see $MAIL_DIR/dovecot.log"

  local addrs="" u
  for u in $USERS; do addrs="$addrs${addrs:+ }$u@$DOMAIN"; done
  cat > "$MAIL_DIR/env" <<EOF
BAZAAR_SMTP_HOST=127.0.0.1
BAZAAR_SMTP_PORT=$SMTP_PORT
BAZAAR_IMAP_HOST=127.0.0.1
BAZAAR_IMAP_PORT=$IMAP_PORT
BAZAAR_MAIL_DOMAIN=$DOMAIN
BAZAAR_MAIL_PASSWORD=$PASSWORD
BAZAAR_MAIL_USERS="$addrs"
BAZAAR_MAIL_TLS=$TLS
BAZAAR_IMAPS_PORT=$([ "$TLS" = 1 ] && echo "$IMAPS_PORT" || echo 0)
BAZAAR_MAIL_CATCHALL=$CATCHALL
EOF
  echo "mail server up"
  echo "  SMTP  127.0.0.1:$SMTP_PORT  (no auth needed from 127.0.0.1; AUTH PLAIN/LOGIN also accepted$([ "$TLS" = 1 ] && echo '; STARTTLS, self-signed'))"
  echo "  IMAP  127.0.0.1:$IMAP_PORT  (LOGIN with full address$([ "$TLS" = 1 ] && echo '; STARTTLS, self-signed'))"
  echo "  users $addrs"
  echo "  password $PASSWORD"
  echo "  files $MAIL_DIR (env, postfix.log, dovecot.log, mail/)"
}

# IMAP restarted mid-session (a fault drill): Dovecot stops, the mailboxes stay, Postfix
# keeps accepting mail and defers its delivery until Dovecot is back.
do_imap_stop() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -f "$D/dovecot.conf" ] || die "no server under $MAIL_DIR; run start first"
  dovecot_stop
  local i
  for i in $(seq 50); do port_open "$IMAP_PORT" || break; sleep 0.1; done
  ! port_open "$IMAP_PORT" || die "IMAP still answers on 127.0.0.1:$IMAP_PORT"
  echo "imap stopped"
}

do_imap_start() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -f "$D/dovecot.conf" ] || die "no server under $MAIL_DIR; run start first"
  dovecot_pid >/dev/null && die "dovecot is already running"
  detached "$MAIL_DIR/dovecot.start.log" dovecot -c "$D/dovecot.conf" ||
    die "dovecot failed to start: $(tail -5 "$MAIL_DIR/dovecot.log")"
  local i imap=""
  for i in $(seq 100); do
    imap=$(greeting "$IMAP_PORT" "a LOGOUT") || true
    [[ "$imap" == "* OK"* ]] && [ -S "$D/run/lmtp" ] && break
    sleep 0.1
  done
  [[ "$imap" == "* OK"* ]] || die "IMAP not answering on 127.0.0.1:$IMAP_PORT, see $MAIL_DIR/dovecot.log"
  # Deliver what Postfix deferred while Dovecot was down, now rather than at its next retry.
  postqueue -c "$P" -f >/dev/null 2>&1 || true
  echo "imap started"
}

do_status() {
  local ok=0
  if postfix_running; then echo "postfix: running (SMTP 127.0.0.1:$SMTP_PORT)"; else echo "postfix: stopped"; ok=1; fi
  if pid=$(dovecot_pid); then echo "dovecot: running, pid $pid (IMAP 127.0.0.1:$IMAP_PORT)"; else echo "dovecot: stopped"; ok=1; fi
  return $ok
}

case "${1:-}" in
  start)   do_start ;;
  stop)    [ "$(id -u)" = 0 ] || die "must run as root"; do_stop; echo "mail server stopped" ;;
  restart) do_start ;;
  status)  do_status ;;
  install) do_install ;;
  imap-stop)  do_imap_stop ;;
  imap-start) do_imap_start ;;
  *) echo "usage: $0 start|stop|status|install|imap-stop|imap-start" >&2; exit 2 ;;
esac
