"""The README's curl walk-through, run as one bash script against the real service.

The blocks marked `<!-- walkthrough -->` are run in order, top to bottom, as a reader would
paste them: `set -euo pipefail`, and the README's own `curl -f` where a success is meant.
A command goes on over lines that end in `\\`, and while a quote it opened is open (a JSON
body written over several lines, as bash reads it).
A comment right under a command (no blank line between) is that command's sample output:
its output must contain each sample line, in order, `…` standing for any text; a line
beginning `#  ` continues the one above. A command that does not fail on an error status
(no `-f`) must show its expected output, so that an error meant (the 412) is checked too.

Left out, by leaving its block unmarked: the `curl -N` event stream, which is open until the
reader stops it (a `--max-time` would end it with curl's exit status 28, a failure to `set -e`).

The service runs with ADMIN_API_KEY, and the script gets it as a reader who set it would: the
walk-through's first block takes its key from there, every curl sends it.
"""

import os
import re
import subprocess
from dataclasses import dataclass, field

from tests.apps import ADMIN_KEY
from tests.server import ROOT, running_service

README = ROOT / "README.md"
README_URL = "http://127.0.0.1:8000"
SECTIONS = [
    "A walk through with curl",
    "Every change is a version",
    "If-Match",
    "merge patch",
    "Audit log",
    "Watching for changes",
    "Schemas: bad configuration never lands",
    "Secrets: marked by the schema, sealed at rest, masked on every read",
    "Feature flags: targeting, gradual rollout and a kill switch",
    "Deleting",
]

BLOCK = re.compile(r"^<!-- walkthrough -->\n```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = "@@walkthrough command {}@@"
SEGMENT = re.compile(r"^@@walkthrough command (\d+)@@$", re.MULTILINE)

PRELUDE = """set -euo pipefail
shopt -s inherit_errexit
"""
WITH_KEY = '-H "$AUTH"'


@dataclass
class Command:
    text: str
    samples: list[str] = field(default_factory=list)

    def curl_calls(self) -> list[str]:
        return [re.split(r"[|&;)]", call)[0] for call in re.split(r"\bcurl\b", self.text)[1:]]

    def fails_on_error_status(self) -> bool:
        return all(
            re.search(r"\s(-[a-zA-Z]*f[a-zA-Z]*|--fail(-with-body)?)\s", call) for call in self.curl_calls()
        )

    def sends_the_key(self) -> bool:
        return all(WITH_KEY in call for call in self.curl_calls())


def walkthrough_blocks(readme: str) -> list[str]:
    return BLOCK.findall(readme)


def ends_inside_quotes(text: str) -> bool:
    """Whether bash, having read `text`, is still inside a '…' or "…" string: a command that
    goes on to the next line. A `#` after a space, outside quotes, begins a comment."""
    quote, index = None, 0
    while index < len(text):
        char = text[index]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\":
            index += 1  # the next character is taken as it is
        elif quote == '"':
            quote = None if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            index = text.find("\n", index)
            if index == -1:
                break
        index += 1
    return quote is not None


def parse(block: str) -> list[Command | str]:
    """The block's lines: commands (with their samples) and the lines between them."""
    parts: list[Command | str] = []
    continued = under_command = False
    for line in block.splitlines():
        if continued:
            parts[-1].text += "\n" + line
        elif line.startswith("#") and under_command:
            sample = line.removeprefix("#").removeprefix(" ")
            if line.startswith("#  ") and parts[-1].samples:
                parts[-1].samples[-1] += sample.lstrip()
            else:
                parts[-1].samples.append(sample)
            continue
        elif not line.strip() or line.startswith("#"):
            parts.append(line)
        else:
            parts.append(Command(line))
        command = parts[-1] if isinstance(parts[-1], Command) else None
        continued = command is not None and (line.endswith("\\") or ends_inside_quotes(command.text))
        under_command = isinstance(parts[-1], Command)
    return parts


def script_of(commands: list[Command | str]) -> str:
    """One bash script: each command preceded by a marker line that splits the output."""
    lines = [PRELUDE]
    for number, part in enumerate(commands):
        if isinstance(part, Command):
            lines.append(f"printf '\\n%s\\n' '{MARKER.format(number)}'")
            lines.append(part.text)
        else:
            lines.append(part)
    return "\n".join(lines) + "\n"


def outputs_by_command(stdout: str) -> dict[int, str]:
    pieces = SEGMENT.split(stdout.replace("\r\n", "\n"))
    return {int(number): output for number, output in zip(pieces[1::2], pieces[2::2], strict=True)}


def missing_samples(samples: list[str], output: str) -> list[str]:
    """The samples not found in `output`, each searched for after the one before."""
    missing, position = [], 0
    for sample in samples:
        pattern = "[^\n]*?".join(re.escape(piece) for piece in sample.split("…"))
        found = re.compile(pattern).search(output, position)
        if found is None:
            missing.append(sample)
        else:
            position = found.end()
    return missing


def readme_commands(base_url: str) -> list[Command | str]:
    text = README.read_text().replace(README_URL, base_url)
    return [part for block in walkthrough_blocks(text) for part in parse(block)]


def test_the_walkthrough_runs_in_order_and_gives_the_outputs_it_shows(database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning", "ADMIN_API_KEY": ADMIN_KEY}
    with running_service(env) as base_url:
        commands = readme_commands(base_url)
        script = script_of(commands)
        assert f"API={base_url}/api/v1" in script
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,  # no .data/admin-key here: the key must come from ADMIN_API_KEY
            env=os.environ | {"ADMIN_API_KEY": ADMIN_KEY},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, f"the walk-through failed:\n{result.stdout}\n{result.stderr}"
    outputs = outputs_by_command(result.stdout)
    for number, command in enumerate(commands):
        if isinstance(command, Command) and command.samples:
            missing = missing_samples(command.samples, outputs[number])
            assert not missing, f"{command.text}\ngave\n{outputs[number]}\nnot\n" + "\n".join(missing)


def test_every_section_of_the_walkthrough_is_run_and_every_error_status_is_checked():
    readme = README.read_text()
    for section in SECTIONS:
        heading = re.search(rf"^#+ .*{re.escape(section)}.*$", readme, re.MULTILINE)
        assert heading, section
        rest = readme[heading.end() :]
        next_heading = re.search(r"^#+ ", rest, re.MULTILINE)
        assert "<!-- walkthrough -->" in rest[: next_heading.start()], f"no walk-through block in {section}"
    commands = [part for part in readme_commands(README_URL) if isinstance(part, Command)]
    unchecked = [c.text for c in commands if not c.fails_on_error_status() and not c.samples]
    assert unchecked == []
    assert [c.text for c in commands if not c.sends_the_key()] == []
    assert re.search(r"^curl -N .*" + re.escape(WITH_KEY), readme, re.MULTILINE), "the stream sends it too"
    samples = [sample for command in commands for sample in command.samples]
    assert any(sample.startswith('{"from":1,"to":3,"patch":') for sample in samples), "the diff sample"
    assert any('"status":412' in sample for sample in samples), "the 412 sample"


def test_samples_are_matched_in_order_with_ellipses_for_any_text():
    (command,) = parse('curl -s "$C"\n# {"a":…,"version":2}\n#  {"b":1}\n\n# a comment')[:1]
    assert command.samples == ['{"a":…,"version":2}{"b":1}']
    assert missing_samples(["HTTP/1.1 200 OK", 'etag: "…"'], 'HTTP/1.1 200 OK\netag: "6"\n') == []
    assert missing_samples(['etag: "…"', "HTTP/1.1 200 OK"], 'HTTP/1.1 200 OK\netag: "6"\n') == [
        "HTTP/1.1 200 OK"
    ]
    assert missing_samples(['{"version":1,…}'], '{"version":2,"a":1}') == ['{"version":1,…}']


def test_a_quoted_body_over_several_lines_is_one_command():
    block = """curl -fsS -d '
  {"a": 1,
# not a sample: still in the body
   "b": "#"}'
# {"ok":true}
echo "Bob's \\"x\\"" # Bob's
# Bob's
ls"""
    first, second, third = parse(block)
    assert first.text.endswith('"b": "#"}\'') and first.samples == ['{"ok":true}']
    assert second.text.startswith("echo") and second.samples == ["Bob's"] and third.text == "ls"


def test_quotes_are_read_as_bash_reads_them():
    assert ends_inside_quotes("""curl -d '{"a":""")
    assert ends_inside_quotes('echo "a \\" b')  # an escaped quote ends nothing
    assert not ends_inside_quotes("""echo 'a\\'""")  # no escapes between single quotes
    assert not ends_inside_quotes("""curl -d '{"a": "#"}'  # it's a comment""")
    assert ends_inside_quotes("echo a#'b")  # a `#` inside a word begins no comment


def test_a_curl_without_fail_needs_a_sample():
    assert Command("curl -fsS $API/x").fails_on_error_status()
    assert Command("ID=$(curl --fail-with-body -s $API/x | python3)").fails_on_error_status()
    assert not Command("curl -s -X PUT $API/x").fails_on_error_status()
    assert not Command("curl -fsS $API/x && curl -s $API/y").fails_on_error_status()


def test_a_curl_without_the_key_is_found():
    assert Command('X=$(curl -fsS -H "$AUTH" $API/x | python3)').sends_the_key()
    assert Command("ID=1").sends_the_key()  # no curl, nothing to send
    assert not Command('curl -fsS -H "$AUTH" $API/x && curl -fsS $API/y').sends_the_key()
