#!/usr/bin/env bash
# The documentation's relative links lead somewhere: every [text](target) in README.md,
# docs/*.md and manifests/README.md that is not a URL names a file or directory that exists,
# and a #fragment names a heading of the target (GitHub's anchors).  Links inside code blocks
# and code spans are not links; a code block left open is an error.  The checker is shown to fail on a broken file link and on a
# broken anchor before it is trusted.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3

# check_links FILE...: prints "FILE: target" for each broken link; exit 1 if there is one.
check_links() {
  $PY - "$@" <<'EOF'
import os, re, sys

def slug(heading):
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")

def anchors(path):
    seen, out, fence = {}, set(), False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fence = not fence
        if fence:
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out

def links(path):
    fence = False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for m in re.finditer(r"\]\(([^)\s]+)\)", line):
            yield m.group(1)
    if fence:
        yield "```"  # a code block left open swallows the rest of the page

bad = 0
for doc in sys.argv[1:]:
    for target in links(doc):
        if target == "```":
            print(f"{doc}: a code block is never closed")
            bad += 1
            continue
        if re.match(r"[a-z]+:", target):
            continue
        file, _, frag = target.partition("#")
        path = os.path.normpath(os.path.join(os.path.dirname(doc), file)) if file else doc
        if not os.path.exists(path):
            print(f"{doc}: {target}: no such file")
            bad += 1
        elif frag and (os.path.isdir(path) or not path.endswith(".md") or frag not in anchors(path)):
            print(f"{doc}: {target}: no such heading")
            bad += 1
sys.exit(1 if bad else 0)
EOF
}

docs=(README.md docs/*.md manifests/README.md)
check "docs/ exists with its index" test -f docs/README.md
for d in "${docs[@]}"; do
  if out=$(check_links "$d"); then ok "$d: every relative link resolves"; else fail "$d: broken links: $out"; fi
done
n=$(cat "${docs[@]}" | grep -cE '\]\((\.\./|docs/|#|[a-z]+\.md)' || true)
[ "$n" -ge 20 ] && ok "the docs link to each other ($n links seen)" || fail "only $n relative links seen: is the pattern still right?"

# Controls: a copy with one broken file link and one with a broken anchor must fail.
mkdir -p "$TMP/docs"
printf '# T\n\n[gone](docs/no-such-page.md)\n' >"$TMP/README.md"
if (cd "$TMP" && check_links README.md) >/dev/null; then fail "control: a broken file link is not caught"
else ok "control: a broken file link is caught"; fi
printf '# T\n\n## Real heading\n\n[here](#real-heading) [there](docs/x.md#no-such-heading)\n' >"$TMP/README.md"
printf '# X\n\n## Other\n' >"$TMP/docs/x.md"
out=$(cd "$TMP" && check_links README.md)
expect_eq "control: a broken anchor is caught, a good one is not" "README.md: docs/x.md#no-such-heading: no such heading" "$out"
printf '# T\n\n```sh\nmake demo\n\n## Later\n' >"$TMP/README.md"
out=$(cd "$TMP" && check_links README.md)
expect_eq "control: a code block left open is caught" "README.md: a code block is never closed" "$out"

done_testing
