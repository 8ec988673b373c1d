-- orderstream database contract (docs/architecture.md, "Database contract").
-- Money is DECIMAL(12,2); times are DATETIME(6) holding UTC (the server runs with time_zone +00:00).
-- Applied once, on a fresh data directory, by `orderstream stack start` (and by the MariaDB
-- image's init hook in docker-compose.yml). Idempotent: every statement is IF NOT EXISTS.

CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
USE shop;

CREATE TABLE IF NOT EXISTS customers (
  id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email       VARCHAR(255) NOT NULL,
  name        VARCHAR(255) NOT NULL,
  created_at  DATETIME(6)  NOT NULL,
  UNIQUE KEY uq_customers_email (email)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS products (
  id        BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sku       VARCHAR(64)   NOT NULL,
  name      VARCHAR(255)  NOT NULL,
  category  VARCHAR(64)   NOT NULL,
  price     DECIMAL(12,2) NOT NULL,
  UNIQUE KEY uq_products_sku (sku),
  CONSTRAINT ck_products_price CHECK (price >= 0)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS orders (
  id            BIGINT        NOT NULL PRIMARY KEY,
  customer_id   BIGINT        NOT NULL,
  status        VARCHAR(16)   NOT NULL,
  total_amount  DECIMAL(12,2) NOT NULL,
  currency      CHAR(3)       NOT NULL,
  version       INT           NOT NULL DEFAULT 1,
  created_at    DATETIME(6)   NOT NULL,
  updated_at    DATETIME(6)   NOT NULL,
  KEY ix_orders_customer (customer_id),
  KEY ix_orders_updated_at (updated_at),
  CONSTRAINT ck_orders_version CHECK (version >= 1),
  CONSTRAINT ck_orders_amount CHECK (total_amount >= 0)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS order_items (
  id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_id    BIGINT        NOT NULL,
  product_id  BIGINT        NOT NULL,
  quantity    INT           NOT NULL,
  unit_price  DECIMAL(12,2) NOT NULL,
  KEY ix_order_items_order (order_id),
  CONSTRAINT ck_order_items_quantity CHECK (quantity > 0)
) ENGINE=InnoDB;

-- One row per status change and one per amount change (then from_status = to_status),
-- written in the same transaction as the order change, changed_at = the order's new
-- updated_at. The pipeline never reads it: reconciliation uses it as ground truth.
CREATE TABLE IF NOT EXISTS order_status_history (
  id               BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_id         BIGINT        NOT NULL,
  from_status      VARCHAR(16)   NULL,
  to_status        VARCHAR(16)   NOT NULL,
  previous_amount  DECIMAL(12,2) NULL,
  amount           DECIMAL(12,2) NOT NULL,
  changed_at       DATETIME(6)   NOT NULL,
  KEY ix_history_order (order_id, changed_at),
  KEY ix_history_changed_at (changed_at)
) ENGINE=InnoDB;
