#!/usr/bin/env bash
# gpu-check.sh — what FlexLon's GPU meter and power caps will see on this node (docs/operator-guide.md,
# "Checking a GPU node"). Needs only bash and nvidia-smi.
#
#   gpu-check.sh [--samples N] [--gpu I]
#                                     READ-ONLY (the default): per GPU (or GPU I only), its power limits (min,
#                                     max, default, current, enforced) and draw, N times a second apart; then
#                                     the exact line FlexLon's meter reads. Changes nothing.
#   gpu-check.sh --set-cap W --gpu I  sets GPU I's power limit to W watts (root), after checking W is within its
#                                     min/max; the previous limit is saved for --restore.
#   gpu-check.sh --restore [--gpu I]  puts back the limit saved by --set-cap (or, with none saved, the default);
#                                     refused where the GPU at that index is not the one saved (its UUID).
#
# Exit status: 0 fine; 1 nvidia-smi missing or failing; 2 usage; 3 refused (not root, cap out of range, a saved
# limit whose GPU UUID is not the GPU now at that index).
set -euo pipefail

STATE="${FLEXLON_GPU_CHECK_STATE:-/var/tmp/flexlon-gpu-check.saved}"
METER_QUERY='index,uuid,power.draw,power.limit'
LIMITS='index,name,power.draw,power.limit,enforced.power.limit,power.default_limit,power.min_limit,power.max_limit'

die() { echo "gpu-check: $2" >&2; exit "$1"; }
# usage [STATUS]: the comment above, to stdout for --help (exit 0), to stderr after a mistake (exit 2).
usage() {
  if [ "${1:-2}" = 0 ]; then awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0; fi
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2
}

samples=1 cap='' gpu='' restore=0
while [ $# -gt 0 ]; do
  case "$1" in
    --samples|--set-cap|--gpu)
      # A flag at the end with no value would otherwise stop the script silently (shift 2 under set -e).
      [ $# -ge 2 ] || die 2 "$1 needs a value (gpu-check.sh --help)"
      case "$1" in
        --samples) samples="$2" ;;
        --set-cap) cap="$2" ;;
        --gpu) gpu="$2" ;;
      esac
      shift 2 ;;
    --restore) restore=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "gpu-check: unknown argument: $1" >&2; usage ;;
  esac
done
[[ "$samples" =~ ^[1-9][0-9]*$ ]] || die 2 "--samples needs a whole number ≥ 1, got '$samples'"
[ -z "$gpu" ] || [[ "$gpu" =~ ^[0-9]+$ ]] || die 2 "--gpu needs a GPU index (0, 1, …), got '$gpu'"
# One spelling per index ("00" is 0), since the saved file is matched by it.
[ -z "$gpu" ] || gpu=$((10#$gpu))
[ -z "$cap" ] || [[ "$cap" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die 2 "--set-cap needs watts (a number), got '$cap'"
[ -z "$cap" ] || [ -n "$gpu" ] || die 2 "--set-cap W needs --gpu I: caps are set one GPU at a time"
[ -z "$cap" ] || [ "$restore" = 0 ] || die 2 "give --set-cap or --restore, not both"

command -v nvidia-smi >/dev/null 2>&1 ||
  die 1 "nvidia-smi not found on PATH: install the NVIDIA driver utilities (Debian/Ubuntu: nvidia-utils-<version>)"

smi() { # nvidia-smi, its own message on failure
  local out
  if ! out="$(nvidia-smi "$@" 2>&1)"; then die 1 "nvidia-smi $* failed: $out"; fi
  printf '%s\n' "$out"
}

# One GPU's field (by index) from a query.
field() { smi -i "$1" --query-gpu="$2" --format=csv,noheader,nounits | tr -d ' '; }

show() {
  local q="$LIMITS"
  # As words, not an array: bash before 4.4 (RHEL 7's 4.2) takes an empty array for unset under set -u.
  local only=''
  [ -z "$gpu" ] || only="-i $gpu"
  # Drivers before enforced.power.limit existed refuse the field: ask without it.
  nvidia-smi --query-gpu="$q" --format=csv,noheader >/dev/null 2>&1 || q="${LIMITS/,enforced.power.limit/}"
  local i
  for ((i = 1; i <= samples; i++)); do
    [ "$i" = 1 ] || sleep 1
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    # shellcheck disable=SC2086 # $only is "" or "-i N": split on purpose
    smi $only --query-gpu="$q" --format=csv
  done
  echo "# what FlexLon's meter reads: nvidia-smi --query-gpu=$METER_QUERY --format=csv,noheader,nounits"
  # shellcheck disable=SC2086
  smi $only --query-gpu="$METER_QUERY" --format=csv,noheader,nounits
}

need_root() {
  [ "$(id -u)" = 0 ] || die 3 "changing a power limit needs root (nvidia-smi -pl): run with sudo; nothing was changed"
}

set_limit() { # gpu watts
  smi -i "$1" -pl "$2"
  echo "gpu-check: GPU $1 power limit is now $(field "$1" power.limit) W"
}

if [ -n "$cap" ]; then
  need_root
  min="$(field "$gpu" power.min_limit)"
  max="$(field "$gpu" power.max_limit)"
  now="$(field "$gpu" power.limit)"
  uuid="$(field "$gpu" uuid)"
  awk -v w="$cap" -v lo="$min" -v hi="$max" 'BEGIN { exit !(w >= lo && w <= hi) }' ||
    die 3 "GPU $gpu accepts limits from $min W to $max W; $cap W refused, nothing was changed"
  # Keep the first saved limit of a GPU, so two --set-cap runs still restore the original; but not
  # another GPU's, saved under the same index before a reboot or a replacement renumbered them.
  first="$(awk -v g="$gpu" '$1 == g { print $3; exit }' "$STATE" 2>/dev/null || true)"
  was="$(awk -v g="$gpu" '$1 == g { print $2; exit }' "$STATE" 2>/dev/null || true)"
  [ -z "$first" ] || [ "$was" = "$uuid" ] ||
    die 3 "GPU $gpu is now $uuid, but $STATE holds a limit saved for $was at that index; nothing was changed (restore that GPU, or remove the line for $gpu from $STATE)"
  if [ -z "$first" ]; then
    echo "$gpu $uuid $now" >>"$STATE"
    echo "gpu-check: GPU $gpu ($uuid) limit $now W saved in $STATE; setting $cap W"
  else
    echo "gpu-check: GPU $gpu ($uuid) limit now $now W; its limit before the first --set-cap, $first W, stays saved in $STATE; setting $cap W"
  fi
  set_limit "$gpu" "$cap"
  show
elif [ "$restore" = 1 ]; then
  need_root
  gpus="$gpu"
  [ -n "$gpu" ] || [ -s "$STATE" ] || echo "gpu-check: no limits saved in $STATE: nothing to restore"
  [ -n "$gpus" ] || gpus="$(smi --query-gpu=index --format=csv,noheader | tr -d ' ')"
  # Indices can change (a reboot, a GPU replaced): restore only onto the GPUs whose limits were saved,
  # every one checked before any is changed.
  for g in $gpus; do
    was="$(awk -v g="$g" '$1 == g { print $2; exit }' "$STATE" 2>/dev/null || true)"
    [ -n "$was" ] || continue
    is="$(field "$g" uuid)"
    [ "$was" = "$is" ] ||
      die 3 "GPU $g is now $is, but the limit saved in $STATE is for $was; nothing was changed (check the index, or remove the line for $g from $STATE)"
  done
  for g in $gpus; do
    saved="$(awk -v g="$g" '$1 == g { print $3; exit }' "$STATE" 2>/dev/null || true)"
    if [ -n "$saved" ]; then
      echo "gpu-check: GPU $g: restoring the saved $saved W"
      set_limit "$g" "$saved"
      sed -i "/^$g /d" "$STATE"
    elif [ -n "$gpu" ]; then
      def="$(field "$g" power.default_limit)"
      echo "gpu-check: GPU $g: nothing saved; restoring its default $def W"
      set_limit "$g" "$def"
    fi
  done
  show
else
  show
fi
