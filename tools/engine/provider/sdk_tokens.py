"""Write generated/tokens.json: every resource and function token of the installed pulumi-openstack SDK.

The provider build embeds it, so the plugin answers to exactly the tokens the SDK sends.
Run with the project's virtualenv Python.
"""
import json
import pathlib
import re

import pulumi_openstack

TOKEN = re.compile(r"""["'](openstack:[A-Za-z0-9]+/[A-Za-z0-9]+:[A-Za-z0-9]+)["']""")


def sdk_tokens() -> dict:
    package = pathlib.Path(pulumi_openstack.__file__).parent
    found = {m for path in package.rglob("*.py") for m in TOKEN.findall(path.read_text())}
    functions = sorted(t for t in found if t.split(":")[2].startswith("get"))
    return {"resources": sorted(found - set(functions)), "functions": functions}


if __name__ == "__main__":
    out = pathlib.Path(__file__).with_name("generated") / "tokens.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(sdk_tokens(), indent=1) + "\n")
    print(f"{out}: {sum(map(len, sdk_tokens().values()))} tokens")
