#!/usr/bin/env bash
# Write new random secrets for deploy/compose.yaml into DIR (default deploy/secrets), one
# file each; an existing file is kept (a new JWT or TOTP key would sign everyone out or
# make the stored authenticators unreadable). DIR is root's alone (0700), the files 0444:
# each container reads its own as its own user.
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")/../.." && pwd)/deploy/secrets}
install -d -m 0700 "$dir"
new() {  # new NAME COMMAND...: write COMMAND's output to DIR/NAME unless it exists
  local name=$1; shift
  [ -e "$dir/$name" ] && return
  (umask 0222; "$@" >"$dir/$name")
}
random() { python3 -c "import secrets; print(secrets.token_urlsafe($1))"; }
fernet() { python3 -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"; }
new jwt_secret_key random 48
new totp_encryption_key fernet
new db_password random 24
new db_root_password random 24
new database_url sh -c "printf 'mysql+pymysql://shopapi:%s@db:3306/shopapi\n' \"\$(cat '$dir/db_password')\""
echo "secrets in $dir"
