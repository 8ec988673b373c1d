"""The native stack: its components (``components/``), lifecycle (``runtime``), health
(``health``), renderers, supervisord, Kafka Connect and Kafka administration."""
