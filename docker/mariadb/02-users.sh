# shellcheck shell=bash
# MariaDB image init hook for docker-compose.yml: renders mysql-init/02-users.sql (mounted at
# $ORDERSTREAM_USERS_TEMPLATE) and applies it, once, on a fresh data directory.
#
# The template's %(name)s placeholders are filled from ORDERSTREAM_DB_<NAME> (e.g.
# %(cdc_password)s from ORDERSTREAM_DB_CDC_PASSWORD) as quoted, escaped SQL string literals,
# and %% becomes %: the same text `orderstream stack start` renders natively
# (orderstream.stack.components.mariadb.users_sql), which tests/unit/compose checks byte for byte.
#
# Sourced, not executed, by the image's entrypoint (the file is deliberately not executable), so
# its docker_process_sql and mysql_error functions are in scope. Everything is inside functions
# with local variables, so nothing leaks into the entrypoint's shell.

orderstream_sql_literal() {
  # pymysql.converters.escape_string, wrapped in single quotes
  local s=$1
  s=${s//\\/\\\\}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\032'/\\Z}
  s=${s//\"/\\\"}
  s=${s//\'/\\\'}
  printf "'%s'" "$s"
}

orderstream_render_users() {
  # Left to right like Python's %-formatting: a value is never scanned for placeholders.
  local template=$1 rest out='' match name var
  rest=$(<"$template") || return 1
  while [[ $rest =~ %(%|\(([a-z_]+)\)s) ]]; do
    match=${BASH_REMATCH[0]}
    name=${BASH_REMATCH[2]}
    out+=${rest%%"$match"*}
    rest=${rest#*"$match"}
    if [[ $match == '%%' ]]; then
      out+=%
      continue
    fi
    var=ORDERSTREAM_DB_${name^^}
    if [[ -z ${!var+set} ]]; then
      mysql_error "02-users.sh: $var is not set (needed for $match in $template)"
      return 1
    fi
    out+=$(orderstream_sql_literal "${!var}")
  done
  printf '%s\n' "$out$rest"
}

orderstream_apply_users() {
  local template=${ORDERSTREAM_USERS_TEMPLATE:-/etc/orderstream/02-users.sql.template} sql
  sql=$(orderstream_render_users "$template") || mysql_error "02-users.sh: cannot render $template"
  docker_process_sql <<<"$sql"
}

orderstream_apply_users
