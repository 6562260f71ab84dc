"""The documentation a newcomer follows: a short README, links that resolve, no path that exists
only on the development machine."""

import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOCS = [README, *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
README_MAX_BYTES = 10 * 1024

# [text](target) and ![alt](target); fenced code blocks and inline code are removed first.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def anchors(path: str) -> set:
    """GitHub's heading anchors of a Markdown file: lower case, punctuation dropped, spaces as
    `-`, a repeated heading numbered `-1`, `-2`, ..."""
    with open(path, encoding="utf-8") as f:
        text = FENCE.sub("", f.read())
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: str):
    with open(path, encoding="utf-8") as f:
        text = INLINE_CODE.sub("", FENCE.sub("", f.read()))
    for target in LINK.findall(text):
        if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            yield target


def test_readme_is_short():
    size = os.path.getsize(README)
    assert size <= README_MAX_BYTES, f"README.md: {size} bytes, expected <= {README_MAX_BYTES}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_relative_link_resolves(doc):
    broken = []
    for target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(doc), file_part)) if file_part else doc
        if not os.path.exists(resolved):
            broken.append(f"{target}: no such file")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor} in {os.path.relpath(resolved, ROOT)}")
    assert not broken, f"{os.path.relpath(doc, ROOT)}: {broken}"


def test_the_anchor_rule_matches_githubs():
    # Punctuation (backticks, colons, em dashes) goes, spaces become hyphens, repeats are numbered.
    assert {"without-docker-tfinpaint-serve", "limitations--what-it-does-badly"} <= anchors(
        os.path.join(ROOT, "docs", "SERVING.md")
    ) | anchors(os.path.join(ROOT, "docs", "MODEL_CARD.md"))


def repository_files():
    """The checkout's files: git's list (tracked, and untracked unless ignored, so a virtual
    environment CI makes inside the checkout is left out), else every file outside `.git` and
    virtual environments."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return list(walked_files())
    return [os.path.join(ROOT, p) for p in listed.decode().split("\0") if p]


def walked_files():
    for folder, dirs, names in os.walk(ROOT):
        venvs = {d for d in dirs if os.path.isfile(os.path.join(folder, d, "pyvenv.cfg"))}
        dirs[:] = [d for d in dirs if d != ".git" and d not in venvs]
        yield from (os.path.join(folder, name) for name in names)


def test_no_path_outside_the_repository_is_named():
    # The datasets folder is named by TFINPAINT_DATASETS (docs/TRAINING.md), never by where it
    # happens to sit on the development machine.
    needle = b"../" + b"shared"
    found = []
    for path in repository_files():
        if os.path.isfile(path):
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(os.path.relpath(path, ROOT))
    assert not found, f"{needle.decode()} named in {found}"


def test_the_code_licence_and_the_weights_terms_agree_everywhere():
    """Apache-2.0 for the code; the weights' research terms in one file that ships with them and
    that the README, the model card and the package metadata all name."""
    import configparser

    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    assert setup["metadata"]["license"] == "Apache-2.0"
    assert "tfinpaint/weights/TERMS.md" in setup["metadata"]["license_files"].split()
    assert "weights/TERMS.md" in setup["options.package_data"]["tfinpaint"]
    with open(os.path.join(ROOT, "tfinpaint", "weights", "TERMS.md"), encoding="utf-8") as f:
        terms = f.read()
    assert "Apache-2.0" in terms and "non-commercial" in terms
    for doc, target in (
        (README, "tfinpaint/weights/TERMS.md"),
        (os.path.join(ROOT, "docs", "MODEL_CARD.md"), "../tfinpaint/weights/TERMS.md"),
    ):
        assert target in set(relative_links(doc)), f"{doc} does not link {target}"
