-- Users of the orderstream stack (docs/architecture.md, "Database contract"). Nobody uses root at run time.
-- Placeholders are pymysql-style named parameters (percent, name in parentheses, s), filled with escaped string literals from
-- the ORDERSTREAM_DB_* settings by `orderstream stack start` (never by sed).

-- Not into the binlog: it would hold these statements, passwords included, for anyone who can
-- read the binlog files or stream them (the CDC user can).
SET sql_log_bin = 0;

-- Debezium: reads the binlog and snapshots shop; nothing else.
CREATE USER IF NOT EXISTS %(cdc_user)s@'%%' IDENTIFIED BY %(cdc_password)s;
ALTER USER %(cdc_user)s@'%%' IDENTIFIED BY %(cdc_password)s;
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO %(cdc_user)s@'%%';
GRANT SELECT ON shop.* TO %(cdc_user)s@'%%';

-- The application (loadgen, reconcile): DML on shop only.
CREATE USER IF NOT EXISTS %(app_user)s@'%%' IDENTIFIED BY %(app_password)s;
ALTER USER %(app_user)s@'%%' IDENTIFIED BY %(app_password)s;
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO %(app_user)s@'%%';

-- prometheus-mysqld-exporter: server status and variables, nothing it could change.
CREATE USER IF NOT EXISTS %(exporter_user)s@'%%' IDENTIFIED BY %(exporter_password)s
  WITH MAX_USER_CONNECTIONS 3;
ALTER USER %(exporter_user)s@'%%' IDENTIFIED BY %(exporter_password)s WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO %(exporter_user)s@'%%';

FLUSH PRIVILEGES;
