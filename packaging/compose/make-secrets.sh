#!/bin/sh
# The Compose stack's secrets, as files in ./secrets (a folder only you can open; each file
# readable by the services' own users, which Compose mounts them for). Random passwords and
# token; the database's and Redis's URLs carry theirs. Refuses to replace a file that is
# there: PostgreSQL keeps the password it was first started with.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 700 secrets
random() { openssl rand -hex 24; }

write() {  # write NAME VALUE: a new file, never over an existing one
    if [ -e "secrets/$1" ]; then
        echo "secrets/$1 is there: kept" >&2
        return 0
    fi
    printf '%s\n' "$2" >"secrets/$1"
    chmod 644 "secrets/$1"
    echo "secrets/$1 written"
}

postgres=$(cat secrets/postgres_password 2>/dev/null || random)
redis=$(sed -n 's/^requirepass //p' secrets/redis.conf 2>/dev/null || true)
[ -n "$redis" ] || redis=$(random)
write api_token "$(random)"
write postgres_password "$postgres"
write database_url "postgresql://elite:$postgres@postgres:5432/elite"
write redis.conf "requirepass $redis"
write redis_url "redis://:$redis@redis:6379/0"
write grafana_admin_password "$(random)"
write aws_credentials "# An off-site bucket's keys for BACKUP_TO (AWS's credentials file format):
# [default]
# aws_access_key_id = ...
# aws_secret_access_key = ..."
