# Keeps build.rs COMMANDS and capabilities/default.json in step with lib.rs's generate_handler!.
import json, re
lib = open('/work/main/src-tauri/src/lib.rs').read()
block = lib[lib.index('generate_handler!['):]
block = block[:block.index(']')]
cmds = re.findall(r'\w+::(\w+)', block)
b = open('/work/main/src-tauri/build.rs').read()
start = b.index('const COMMANDS: &[&str] = &[')
end = b.index('];', start)
b = b[:start] + 'const COMMANDS: &[&str] = &[\n' + ''.join(f'    "{c}",\n' for c in cmds) + b[end:]
open('/work/main/src-tauri/build.rs', 'w').write(b)
cap = {"$schema": "../gen/schemas/desktop-schema.json", "identifier": "default",
       "description": "The main window may call Slipway's own commands and nothing else (Channel delivery needs no permission).",
       "windows": ["main"], "permissions": ["allow-" + c.replace("_", "-") for c in cmds]}
open('/work/main/src-tauri/capabilities/default.json', 'w').write(json.dumps(cap, indent=2) + "\n")
print(len(cmds), "commands")
