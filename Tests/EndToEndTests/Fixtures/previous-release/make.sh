#!/usr/bin/env bash
# How the files in this folder were made: by the CLIs of commit f859aa6 (the release before the store
# rebuild of issue #11), so that PreviousReleaseTests can check that a file written by the previous
# release opens, migrates and syncs. Kept for the record; the test uses the committed files.
#   git worktree add /tmp/prev f859aa6 && (cd /tmp/prev && swift build)   # or the main tree at f859aa6
#   BIN=/tmp/prev/.build/debug bash make.sh
set -euo pipefail
BIN=${BIN:?set BIN to the .build/debug of the previous release}
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cd "$work"
"$BIN/hub" init --db hub.sqlite
"$BIN/hub" unit add --db hub.sqlite --id xa-lay-nua --name "UBND xã Lay Nưa" --kind direct --parent muong-lay
"$BIN/hub" unit schedule --db hub.sqlite --id muong-lay --date 2024-11-05
tok_a=$("$BIN/hub" device add --db hub.sqlite --device dev-a --units muong-lay,xa-lay-nua --name "Lò Văn Thắng" | tail -n 1)
tok_b=$("$BIN/hub" device add --db hub.sqlite --device dev-b --units muong-lay --name "Quàng Thị Mai" | tail -n 1)
"$BIN/hub" serve --db hub.sqlite --listen 127.0.0.1:0 > serve.log 2>&1 &
hub_pid=$!
trap "kill $hub_pid 2>/dev/null || true" EXIT
for _ in $(seq 1 100); do grep -q "listening on" serve.log && break; sleep 0.1; done
port=$(grep -o "listening on [^ ]*" serve.log | sed 's/.*://')
"$BIN/inspector" init --db dev-a.sqlite --device dev-a --hub 127.0.0.1:$port --token "$tok_a"
"$BIN/inspector" init --db dev-b.sqlite --device dev-b --hub 127.0.0.1:$port --token "$tok_b"
"$BIN/inspector" set --db dev-a.sqlite muong-lay II.4 status done
"$BIN/inspector" set --db dev-a.sqlite muong-lay II.5 fund_percent 12,5
"$BIN/inspector" finding add --db dev-a.sqlite --unit muong-lay --item II.3 --kind good_practice --text "Mô hình “Dân vận khéo” ở bản Huổi Lóng"
"$BIN/inspector" set --db dev-b.sqlite muong-lay II.4 status in_progress
"$BIN/inspector" finding add --db dev-b.sqlite --unit muong-lay --item II.1 --kind shortcoming --text "Chưa ban hành kế hoạch phát động thi đua năm 2024"
"$BIN/inspector" sync --db dev-a.sqlite
"$BIN/inspector" sync --db dev-b.sqlite
"$BIN/inspector" sync --db dev-a.sqlite
# Left unsent in the files: one edit on each device.
"$BIN/inspector" set --db dev-a.sqlite xa-lay-nua I.1 note "Đoàn làm việc với UBND xã Lay Nưa ngày 06/11"
"$BIN/inspector" finding retract --db dev-b.sqlite dev-b/2 --reason "Ghi nhầm đơn vị"
kill -TERM $hub_pid; wait $hub_pid || true
for f in hub dev-a dev-b; do
  sqlite3 "$f.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
  cp "$f.sqlite" "$out/$f.sqlite"
done
"$BIN/hub" export --db hub.sqlite --json > "$out/hub-export-before.json"
rm -rf "$work"
