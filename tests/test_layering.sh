#!/bin/sh
# test_layering.sh — the layers of doc/ARCHITECTURE.md, read from the
# sources: every #include of src/ and include/ is checked against what its
# layer may see, public headers followed to what they include in turn
# (a public header is a door: fedrec/fedmsmt.h brings fedrec/backend.h
# with it).
#   src/fed/      the federation core: host vectors, the client interface,
#                 communication; no backend, nn, data or model, public or
#                 internal (an allowlist of public headers).
#   src/rec/, src/mtl/, src/mtr/, src/nn/   models: never the federation
#                 core's insides (fed/), a job (job/), the CLI (cli/) or the
#                 backend's insides (backend/: they compute through the
#                 public fedrec/backend.h and fedrec/host.h).
#   src/backend/  nothing above it: its own files, core/, and the public
#                 backend and error headers.
#   src/data/     neither a backend nor nn.
#   src/core/, src/io/   the bottom: each other and the public headers of
#                 errors, random numbers, progress, version and
#                 configuration (an allowlist, followed transitively).
#   OpenCL and CLBlast headers only inside src/backend/opencl/.
# With an argument, checks that tree instead of the source tree (the test
# of the test: tests/layering/ holds a tree that breaks every rule).
set -u
: "${top_srcdir:=.}"
root=${1:-$top_srcdir}
root=$(cd "$root" && pwd) || exit 99
[ -d "$root/src" ] || { echo "SKIP: no src/ under $root"; exit 77; }
failures=0 checked=0
bad() { echo "FAIL: $1: $2" >&2; failures=$((failures + 1)); }

# The quoted includes of a file, one per line.
includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }

# A public header and every public header it brings, transitively.
closure() {
    todo=$1 seen=""
    while [ -n "$todo" ]; do
        h=${todo%% *}
        [ "$h" = "$todo" ] && todo="" || todo=${todo#* }
        case " $seen " in *" $h "*) continue ;; esac
        seen="$seen $h"
        f="$root/include/$h"
        [ -f "$f" ] || continue
        for n in $(includes "$f"); do
            case $n in fedrec/*) todo="$todo $n" ;; esac
        done
    done
    echo $seen
}

# Public headers the federation core may bring in.
fed_public="fedrec/error.h fedrec/fed.h fedrec/fed_client.h fedrec/participation.h fedrec/privacy.h fedrec/progress.h fedrec/rng.h fedrec/comm.h fedrec/config.h fedrec/version.h"
backend_public="fedrec/backend.h fedrec/host.h fedrec/error.h"
bottom_public="fedrec/error.h fedrec/rng.h fedrec/progress.h fedrec/version.h fedrec/config.h"

check_file() { # file layer
    file=$1 layer=$2 rel=${1#$root/}
    checked=$((checked + 1))
    for inc in $(includes "$file"); do
        case $layer in
        fed)
            case $inc in
            backend/* | nn/* | rec/* | mtl/* | mtr/* | job/* | cli/* | data/* | table/* | eval/*)
                bad "$rel" "includes \"$inc\": the federation core sees no backend, nn, data or model" ;;
            fedrec/*)
                for h in $(closure "$inc"); do
                    case " $fed_public " in *" $h "*) ;; *)
                        bad "$rel" "includes \"$inc\", which brings $h: not a federation-core header" ;;
                    esac
                done ;;
            esac ;;
        model)
            case $inc in
            fed/* | job/* | cli/*) bad "$rel" "includes \"$inc\": a model never sees the federation core's insides, a job or the CLI" ;;
            backend/*) bad "$rel" "includes \"$inc\": a model computes through the backend's public headers (fedrec/backend.h, fedrec/host.h), not its insides" ;;
            esac ;;
        backend)
            case $inc in
            backend/* | core/* | config.h) ;;
            fedrec/*)
                for h in $(closure "$inc"); do
                    case " $backend_public " in *" $h "*) ;; *)
                        bad "$rel" "includes \"$inc\", which brings $h: the backend includes nothing above it" ;;
                    esac
                done ;;
            *) bad "$rel" "includes \"$inc\": the backend includes nothing above it" ;;
            esac ;;
        bottom)
            case $inc in
            core/* | io/* | config.h) ;;
            fedrec/*)
                for h in $(closure "$inc"); do
                    case " $bottom_public " in *" $h "*) ;; *)
                        bad "$rel" "includes \"$inc\", which brings $h: core and io are the bottom layer" ;;
                    esac
                done ;;
            *) bad "$rel" "includes \"$inc\": core and io are the bottom layer" ;;
            esac ;;
        data)
            case $inc in
            backend/* | nn/*) bad "$rel" "includes \"$inc\": data code sees no backend or nn" ;;
            fedrec/*)
                for h in $(closure "$inc"); do
                    case $h in fedrec/backend.h | fedrec/host.h | fedrec/nn.h)
                        bad "$rel" "includes \"$inc\", which brings $h: data code sees no backend or nn" ;;
                    esac
                done ;;
            esac ;;
        esac
    done
}

for f in $(find "$root/src" "$root/include" -name '*.[ch]' 2>/dev/null | sort); do
    rel=${f#$root/}
    case $rel in
    src/fed/*) check_file "$f" fed ;;
    src/rec/* | src/mtl/* | src/mtr/* | src/nn/*) check_file "$f" model ;;
    src/backend/*) check_file "$f" backend ;;
    src/data/*) check_file "$f" data ;;
    src/core/* | src/io/*) check_file "$f" bottom ;;
    *) checked=$((checked + 1)) ;;
    esac
    case $rel in
    src/backend/opencl/*) ;;
    *)
        if grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](CL/|clblast)' "$f" >/dev/null; then
            bad "$rel" "includes an OpenCL or CLBlast header outside src/backend/opencl/"
        fi ;;
    esac
done
[ "$checked" -gt 0 ] || { echo "FAIL: no source files found under $root" >&2; exit 1; }
echo "layering: $checked files checked, $failures breaks"
if [ $# -eq 0 ]; then
    # The test of the test: each of the 8 files of the broken tree (one
    # per rule) must be caught.
    broken=$(sh "$0" "$top_srcdir/tests/layering" 2>&1)
    n=$(printf '%s\n' "$broken" | sed -n 's/^FAIL: \(src\/[^:]*\):.*/\1/p' | sort -u | wc -l)
    if [ "$n" -ne 8 ]; then
        printf '%s\n' "$broken" >&2
        echo "FAIL: of the 8 files of the deliberately broken tree tests/layering/, $n were caught" >&2
        failures=$((failures + 1))
    fi
fi
[ "$failures" -eq 0 ]
