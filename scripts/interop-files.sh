#!/usr/bin/env bash
# scripts/interop-files.sh — the file-transfer commands of openclaw-node against the real openclaw@2026.9.6
# gateway, driven the way the gateway drives them.
#
# A real 2026.9.6 gateway on loopback with the five file commands allowed (gateway.nodes.commands.allow) and
# a file-transfer path policy (plugins.entries["file-transfer"].config, policyVersion 2, ask off, read and
# write globs on a scratch tree). openclaw-node connects and is approved; then:
#   (1) operator `node.invoke` of file.stat, file.fetch, dir.list, dir.fetch, file.write: the gateway's policy
#       runs the two phases (preflightOnly, then the bound call with expectedCanonicalPath/expectedBinding);
#       the final payload is compared field by field with the TS host's payload recorded live for the same
#       fixture (node-surface captures, embedded below with the paths rewritten). Bindings, mtimes and the
#       archive bytes differ by nature: bindings are checked against os.stat, mtimes against the file,
#       the archive by decoding it (sha256, size, members).
#   (2) error paths through the gateway: SYMLINK_REDIRECT, FILE_TOO_LARGE, hard link, FIFO, PARENT_NOT_FOUND,
#       EXISTS_NO_OVERWRITE, a bound overwrite that keeps the inode and mode.
#   (3) the agent tools through the gateway's `tools.invoke` RPC: file_fetch (a 4 MiB file, bytes compared),
#       dir_list, dir_fetch, file_write.
#
# USAGE  scripts/interop-files.sh [--node-bin PATH] [--keep]      (default: target/release/openclaw-node)
#   INTEROP_PORT_MIN / INTEROP_PORT_MAX   loopback ports to pick from (default 20000-20099)
# Uses scripts/interop.sh --install-only for the cached Node 24 + openclaw 2026.9.6.
# OUTPUT  PASS/FAIL lines, then "N passed, N failed"; exit 0 only when nothing failed.
set -euo pipefail

HARNESS=interop-files
# shellcheck source=scripts/lib/interop-harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/interop-harness.sh" "$@"
INTEROP_PORT_MIN=${INTEROP_PORT_MIN:-20000} # gateway_home picks the gateway's port from these
INTEROP_PORT_MAX=${INTEROP_PORT_MAX:-20099}


# ---- fixture: the tree the TS payloads were recorded on (node-surface §8, /srv/share/t and /srv/share/w3) -----
T="$RUN/share/t"
W="$RUN/share/w3"
mkdir -p "$T/dir/sub" "$W" "$RUN/share/w4"
printf 'hello\n' >"$T/a.txt"
ln -s a.txt "$T/link.txt"
printf 'h\n' >"$T/dir/.hidden"
printf 'x\n' >"$T/dir/sub/x.txt"
printf 'linked' >"$T/h1"
ln "$T/h1" "$T/h2"
mkfifo "$T/pipe"
head -c $((4 << 20)) /dev/urandom >"$T/big.bin"
printf 'old content' >"$W/keep.txt"
chmod 0640 "$W/keep.txt"

# ---- gateway: the five commands allowed, and a path policy -----------------------------------------------
gateway_home
cat >"$GW_HOME/.openclaw/openclaw.json" <<EOF
{
  gateway: {
    mode: "local", bind: "loopback", port: $PORT, auth: { mode: "token", token: "$TOKEN" },
    nodes: { commands: { allow: ["file.fetch", "file.stat", "dir.list", "dir.fetch", "file.write"] } },
  },
  plugins: { entries: { "file-transfer": { config: {
    policyVersion: 2,
    nodes: { "*": {
      ask: "off",
      allowReadPaths: ["$RUN/share", "$RUN/share/**"],
      allowWritePaths: ["$RUN/share/w3/**", "$RUN/share/w4/**"],
      followSymlinks: false,
    } },
  } } } },
}
EOF
start_gateway

OC_TIMEOUT=120
invoke() { node_invoke "$NODE_ID" "$1" "$2" 30000; } # COMMAND PARAMS_JSON: the operator's node.invoke
tool() { # NAME ARGS_JSON: an agent tool through the gateway's tools.invoke RPC
  local req
  req=$(python3 -c 'import json,sys; print(json.dumps({"name":sys.argv[1],"args":json.loads(sys.argv[2])}))' "$1" "$2")
  oc gateway call tools.invoke --json --timeout 60000 --params "$req" 2>&1 || true
}

NODE_HOME="$RUN/node/home"
mkdir -p "$NODE_HOME"
start_group "$RUN/node.log" "$NODE_HOME" OPENCLAW_GATEWAY_TOKEN="$TOKEN" RUST_LOG=info "$NODE_BIN" run \
  --host 127.0.0.1 --port "$PORT" --display-name files-node
NODE_PID=$STARTED
if ! connect_and_approve files-node 120 file.fetch; then
  fail "openclaw-node did not connect with file.fetch approved (see $RUN/node.log, $RUN/gw/log)"
  echo "$PASSED passed, $FAILED failed"; exit 1
fi
pass "openclaw-node connected and approved with the file commands ($NODE_ID)"

# ---- the checker: a gateway answer against the TS payload recorded for the same fixture -------------------
cat >"$RUN/check.py" <<'PY'
"""check.py MODE ...: compare an operator node.invoke answer (stdin) with the TS payload."""
import base64, gzip, hashlib, io, json, os, sys, tarfile

def load(text):
    text = text.strip()
    dec = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{" and (i == 0 or text[i - 1] == "\n"):
            try:
                return dec.raw_decode(text[i:])[0]
            except ValueError:
                continue
    raise SystemExit("no JSON answer: " + text[:400])

def binding_of(path):
    st = os.stat(path)
    return {"kind": "existing", "device": str(st.st_dev), "inode": str(st.st_ino)}

def compare(got, want, where, root_t, root_w):
    """Field by field, in order. Volatile values are checked against the filesystem instead."""
    problems = []
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where}: {json.dumps(got)[:120]} is not an object"]
        if list(got) != list(want):
            problems.append(f"{where}: keys {list(got)} != TS {list(want)}")
        for key, value in want.items():
            if key not in got:
                continue
            sub = f"{where}.{key}"
            if key == "binding":
                path = got.get("path")
                if got[key] != binding_of(path):
                    problems.append(f"{sub}: {got[key]} is not os.stat({path}) {binding_of(path)}")
            elif key in ("mtimeMs", "mtime"):
                path = got.get("path")
                st = os.lstat(path)
                expected = st.st_mtime_ns / 1e6
                if not isinstance(got[key], (int, float)) or abs(got[key] - expected) > 0.01:
                    problems.append(f"{sub}: {got[key]} is not the file's mtime {expected}")
            elif key == "tarBase64":
                raw = base64.b64decode(got[key], validate=True)
                if hashlib.sha256(raw).hexdigest() != got.get("sha256") or len(raw) != got.get("tarBytes"):
                    problems.append(f"{sub}: sha256/tarBytes do not describe the archive")
                names = [m.name for m in tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))).getmembers()]
                want_names = [m.name for m in tarfile.open(fileobj=io.BytesIO(gzip.decompress(base64.b64decode(value)))).getmembers()]
                if sorted(names) != sorted(want_names):
                    problems.append(f"{sub}: members {names} != TS {want_names}")
            elif key in ("tarBytes", "sha256") and "tarBase64" in want:
                pass  # checked with the archive
            else:
                problems += compare(got[key], value, sub, root_t, root_w)
        return problems
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{where}: {json.dumps(got)[:200]} != TS {json.dumps(want)[:200]}"]
        for i, (g, w) in enumerate(zip(got, want)):
            problems += compare(g, w, f"{where}[{i}]", root_t, root_w)
        return problems
    if isinstance(want, str):
        want = want.replace("@T", root_t).replace("@W", root_w)
    if got != want:
        problems.append(f"{where}: {json.dumps(got)[:200]} != TS {json.dumps(want)[:200]}")
    return problems

def main():
    mode = sys.argv[1]
    answer = load(sys.stdin.read())
    payload = answer.get("payload")
    if payload is None and isinstance(answer.get("payloadJSON"), str):
        payload = json.loads(answer["payloadJSON"])
    if mode == "payload":  # payload KEY.PATH: print one field of the payload
        value = payload
        for key in sys.argv[2].split("."):
            value = value.get(key) if isinstance(value, dict) else None
        print(value if isinstance(value, str) else json.dumps(value))
        return
    want, root_t, root_w = json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
    if payload is None:
        raise SystemExit("no payload: " + json.dumps(answer)[:400])
    problems = compare(payload, want, "payload", root_t, root_w)
    if problems:
        raise SystemExit("; ".join(problems)[:1200])

main()
PY
# same LABEL COMMAND PARAMS TS_PAYLOAD: the node's payload through the gateway equals TS's
same() {
  local label=$1 command=$2 params=$3 want=$4 out why
  out=$(invoke "$command" "$params")
  if why=$(python3 "$RUN/check.py" compare "$want" "$T" "$W" <<<"$out" 2>&1); then
    pass "$label: payload equals the TS host's, field by field"
  else
    fail "$label: $why"
    echo "$out" >>"$RUN/answers.log"
  fi
}
field() { python3 "$RUN/check.py" payload "$1"; }

# ---- (1) the recorded calls ----------------------------------------------------------------------------------
REDIRECT='path traverses a symlink; refusing because followSymlinks=false (set plugins.entries.file-transfer.config.nodes.<node>.followSymlinks=true to allow, or update allowReadPaths to the canonical path)'
B='{"kind":"existing","device":"65024","inode":"10240281"}'
same "file.stat" file.stat "{\"path\":\"$T/a.txt\"}" \
  "{\"ok\":true,\"path\":\"@T/a.txt\",\"type\":\"file\",\"size\":6,\"mtimeMs\":1796106684127.0913,\"binding\":$B}"
same "file.fetch" file.fetch "{\"path\":\"$T/a.txt\",\"maxBytes\":100}" \
  "{\"ok\":true,\"path\":\"@T/a.txt\",\"size\":6,\"mimeType\":\"text/plain\",\"base64\":\"aGVsbG8K\",\"sha256\":\"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\",\"binding\":$B}"
same "file.fetch of a symlink (SYMLINK_REDIRECT)" file.fetch "{\"path\":\"$T/link.txt\"}" \
  "{\"ok\":false,\"code\":\"SYMLINK_REDIRECT\",\"message\":\"$REDIRECT\",\"canonicalPath\":\"@T/a.txt\"}"
same "dir.list, one entry a page" dir.list "{\"path\":\"$T/dir\",\"maxEntries\":1}" \
  "{\"ok\":true,\"path\":\"@T/dir\",\"entries\":[{\"name\":\".hidden\",\"path\":\"@T/dir/.hidden\",\"size\":2,\"mimeType\":\"application/octet-stream\",\"isDir\":false,\"mtime\":1796106684130.0298}],\"nextPageToken\":\"1\",\"truncated\":true,\"binding\":$B}"
# Not in the capture: the last page, as §8.5 states TS's entry for a directory (size 0, inode/directory)
# and a last page (no nextPageToken).
same "dir.list, the last page" dir.list "{\"path\":\"$T/dir\",\"maxEntries\":1,\"pageToken\":\"1\"}" \
  "{\"ok\":true,\"path\":\"@T/dir\",\"entries\":[{\"name\":\"sub\",\"path\":\"@T/dir/sub\",\"size\":0,\"mimeType\":\"inode/directory\",\"isDir\":true,\"mtime\":0}],\"truncated\":false,\"binding\":$B}"
same "dir.fetch" dir.fetch "{\"path\":\"$T/dir\"}" \
  "{\"ok\":true,\"path\":\"@T/dir\",\"tarBase64\":\"H4sIAAAAAAAAA+3VzQqCQBSG4Vl3FXMF4xydn+spDGqToAZ295lBUAuj4CTV+2xGdGDO8MGnK4w6P8oxTuvocZ2eJVa+CimkHMb3OZfR2Kg/mjHHrl+31pq2afq5fc++fylXuN2+rrcHxTMuAacQZvIv7/MXkSjGesWZbv48/9Nq6QmwJFd0x43yP+Dl/hcfJdH/n3DNf3D9oHe7N/p/yp/+1zfQ/wAAAAAAAAAAAADwE86uBBegACgAAA==\",\"tarBytes\":187,\"sha256\":\"3994f5d31a1d10e8a04634a38082bcc44e668db160d65655a583fb80b5ff2604\",\"fileCount\":3,\"entries\":[\".hidden\",\"sub\",\"sub/x.txt\"],\"binding\":$B}"
same "file.write of a new file" file.write "{\"path\":\"$W/x.txt\",\"contentBase64\":\"aGk=\"}" \
  "{\"ok\":true,\"path\":\"@W/x.txt\",\"size\":2,\"sha256\":\"8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4\",\"overwritten\":false,\"binding\":{\"kind\":\"existing\",\"device\":\"65024\",\"inode\":\"10264784\"}}"
[[ "$(cat "$W/x.txt")" == hi && "$(stat -c %a "$W/x.txt")" == 600 ]] && pass "file.write: the file holds the bytes, mode 0600" \
  || fail "file.write: $W/x.txt is $(stat -c %a "$W/x.txt" 2>&1) with $(head -c 50 "$W/x.txt" 2>&1)"

# ---- (2) error paths through the gateway ---------------------------------------------------------------------
expect_code() { # LABEL CODE MESSAGE_PREFIX COMMAND PARAMS
  local out code message
  out=$(invoke "$4" "$5")
  code=$(field code <<<"$out" 2>/dev/null || true)
  message=$(field message <<<"$out" 2>/dev/null || true)
  if [[ "$code" == "$2" && "$message" == "$3"* ]]; then
    pass "$1: $code \"$message\""
  else
    fail "$1: wanted $2 \"$3…\", got $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  fi
}
expect_code "file.fetch over maxBytes" FILE_TOO_LARGE "file size 6 exceeds limit 3" file.fetch "{\"path\":\"$T/a.txt\",\"maxBytes\":3}"
expect_code "file.fetch of a hard-linked file" READ_ERROR "open failed: FsSafeError: hardlinked path not allowed" file.fetch "{\"path\":\"$T/h1\"}"
expect_code "file.fetch of a FIFO (refused without blocking)" IS_DIRECTORY "path is a directory" file.fetch "{\"path\":\"$T/pipe\"}"
expect_code "file.stat of a FIFO" UNSUPPORTED_FILE_TYPE "only regular files and directories are supported" file.stat "{\"path\":\"$T/pipe\"}"
expect_code "file.write without its parent" PARENT_NOT_FOUND "parent directory does not exist: $W/no" file.write "{\"path\":\"$W/no/x.txt\",\"contentBase64\":\"aGk=\"}"
expect_code "file.write over an existing file" EXISTS_NO_OVERWRITE "file already exists and overwrite is false: $W/x.txt" file.write "{\"path\":\"$W/x.txt\",\"contentBase64\":\"aGk=\"}"
expect_code "file.write, non-canonical base64" INVALID_BASE64 "contentBase64 is not valid base64" file.write "{\"path\":\"$W/y.txt\",\"contentBase64\":\"aGl=\"}"
inode=$(stat -c %i "$W/keep.txt")
out=$(invoke file.write "{\"path\":\"$W/keep.txt\",\"contentBase64\":\"aGk=\",\"overwrite\":true}")
if [[ "$(field overwritten <<<"$out" 2>/dev/null)" == true && "$(stat -c %i "$W/keep.txt")" == "$inode" && "$(stat -c %a "$W/keep.txt")" == 640 && "$(cat "$W/keep.txt")" == hi ]]; then
  pass "file.write overwrite: bound in place, same inode $inode, mode 0640 kept"
else
  fail "file.write overwrite: $(tr '\n' ' ' <<<"$out" | cut -c1-300); inode $inode -> $(stat -c %i "$W/keep.txt"), mode $(stat -c %a "$W/keep.txt")"
fi
out=$(invoke file.write "{\"path\":\"$RUN/share/w4/deep/er/z.txt\",\"contentBase64\":\"aGk=\",\"createParents\":true}")
[[ "$(field ok <<<"$out" 2>/dev/null)" == true && "$(cat "$RUN/share/w4/deep/er/z.txt" 2>/dev/null)" == hi ]] \
  && pass "file.write createParents: the bound create made the directories under the anchor" \
  || fail "file.write createParents: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"

# ---- (3) the agent tools --------------------------------------------------------------------------------------
json_path() { # KEY.PATH < JSON
  python3 -c 'import json,sys
t=sys.stdin.read(); d=json.loads(t[t.find("{"):])
for k in sys.argv[1].split("."): d=d.get(k) if isinstance(d,dict) else None
print(d if isinstance(d,str) else json.dumps(d))' "$1"
}
out=$(tool file_fetch "{\"node\":\"files-node\",\"path\":\"$T/big.bin\"}")
local_path=$(json_path output.details.localPath <<<"$out" 2>/dev/null || true)
if [[ -n "$local_path" && -f "$local_path" ]] && cmp -s "$local_path" "$T/big.bin"; then
  pass "tool file_fetch: 4 MiB through the gateway, the saved bytes equal the file"
else
  fail "tool file_fetch: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
fi
for spec in "dir_list|{\"node\":\"files-node\",\"path\":\"$T/dir\"}|.hidden" \
  "dir_fetch|{\"node\":\"files-node\",\"path\":\"$T/dir\"}|x.txt" \
  "file_write|{\"node\":\"files-node\",\"path\":\"$W/tool.txt\",\"contentBase64\":\"aGk=\"}|tool.txt"; do
  IFS='|' read -r name args needle <<<"$spec"
  out=$(tool "$name" "$args")
  if [[ "$out" == *'"ok": true'* || "$out" == *'"ok":true'* ]] && [[ "$out" == *"$needle"* ]]; then
    pass "tool $name: ok through the gateway"
  else
    fail "tool $name: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  fi
done
[[ "$(cat "$W/tool.txt" 2>/dev/null)" == hi ]] && pass "tool file_write: the file holds the bytes" || fail "tool file_write: $W/tool.txt missing"

stop_group "$NODE_PID"
stop_group "$GW_PID"
echo "---- interop-files summary (openclaw $OC_VERSION, $(basename "$NODE_BIN"))"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
