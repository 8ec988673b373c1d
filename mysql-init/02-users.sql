-- Users of the orderstream stack (docs/architecture.md, "Database contract"). Nobody uses root at run time.
-- Placeholders are pymysql-style named parameters (percent, name in parentheses, s), filled with escaped string literals from
-- the ORDERSTREAM_DB_* settings by `orderstream stack start` (never by sed).

-- Debezium: reads the binlog and snapshots shop; nothing else.
CREATE USER IF NOT EXISTS %(cdc_user)s@'%%' IDENTIFIED BY %(cdc_password)s;
ALTER USER %(cdc_user)s@'%%' IDENTIFIED BY %(cdc_password)s;
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO %(cdc_user)s@'%%';
GRANT SELECT ON shop.* TO %(cdc_user)s@'%%';

-- The application (loadgen, reconcile): DML on shop only.
CREATE USER IF NOT EXISTS %(app_user)s@'%%' IDENTIFIED BY %(app_password)s;
ALTER USER %(app_user)s@'%%' IDENTIFIED BY %(app_password)s;
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO %(app_user)s@'%%';

FLUSH PRIVILEGES;
