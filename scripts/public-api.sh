#!/usr/bin/env bash
# Counts the public Rust items of mxclock, as rustdoc lists them in
# target/doc/mxclock/all.html (each item once, under the path a user writes;
# methods and fields are not counted). Default features, `--no-deps`.
#
#   bash scripts/public-api.sh           # the work tree
#   bash scripts/public-api.sh REV       # a commit, built in a temporary
#                                        # worktree (target/public-api)
#   bash scripts/public-api.sh --list    # also print every item path
#
# `#[doc(hidden)]` items (the `__internal` module shared with the benches,
# fuzz targets and tests, no semver promise) are not in rustdoc's list; its
# re-exports are counted from src/lib.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

list=false rev=
for arg in "$@"; do
    case $arg in
        --list) list=true ;;
        -*) echo "usage: $0 [--list] [REV]" >&2; exit 2 ;;
        *) rev=$arg ;;
    esac
done

if [[ -n $rev ]]; then
    tree=$(mktemp -d)
    trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$tree"' EXIT
    git worktree add --detach --quiet "$tree" "$rev"
    # One target directory for every revision: the dependencies build once.
    (cd "$tree" && cargo doc --quiet --no-deps -p mxclock --target-dir "$OLDPWD/target/public-api") >&2
    all=target/public-api/doc/mxclock/all.html
else
    cargo doc --quiet --no-deps -p mxclock >&2
    all=target/doc/mxclock/all.html
fi

# all.html: one `<h3 id="KIND">` per kind, then `<li><a href="…">PATH</a></li>`.
items=$(sed 's/<h3 id="/\n&/g; s/<li>/\n<li>/g' "$all" |
    awk '/^<h3 id="/ { split($0, a, "\""); kind = a[2]; next }
         /^<li><a href=/ && kind != "" { sub(/^<li><a href="[^"]*">/, ""); sub(/<\/a>.*/, ""); print kind "\t" $0 }')

$list && printf '%s\n' "$items"
# The names in the `pub use` lists of `pub mod __internal { ... }`.
src_lib=src/lib.rs
[[ -n $rev ]] && src_lib=$tree/src/lib.rs
hidden=$(awk '/^pub mod __internal/ { on = 1 } on && /^}/ { on = 0 } on' "$src_lib" |
    awk '/pub use/ { on = 1 } on { print } /;/ { on = 0 }' |
    sed 's/pub use [a-z_:]*//; s/[{};,]/ /g' | tr ' ' '\n' | grep -c '^[A-Za-z_]' || true)
echo "${rev:-work tree}: $(grep -c . <<<"$items") public items; $hidden more hidden in __internal"
printf '%s\n' "$items" | cut -f1 | sort | uniq -c | sed 's/^/  /'
