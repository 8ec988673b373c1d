package orderstream.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer: reads the bench's CDC topic from the beginning, drops changes whose
 * order version was already seen (RocksDB store), writes the rest to a processed topic as the
 * dataflow's processed-order records (docs/dataflow.md: the same fields and formats, an
 * illegal status change flagged), and keeps 1-minute event-time windows of revenue per
 * currency and transition counts per FROM|TO pair (RocksDB window stores, behind repartition
 * topics). At-least-once, 1 thread.
 *
 * <p>Usage: PeerApp BOOTSTRAP SOURCE_TOPIC APPLICATION_ID OUTPUT_PREFIX EXPECTED STATE_DIR
 * [PRODUCER_SETTING=VALUE ...] (the dataflow's producer settings, given by bench/peer_apps.py);
 * PeerApp --processed-records prints the processed record of each change value on stdin
 * (tests/integration/test_bench_peer_records.py).
 *
 * <p>Prints one JSON line when every input record went through every stage: records,
 * seconds and cpu_seconds from the first record read, total_cpu_seconds, peak_rss_bytes.
 */
public final class PeerApp {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final AtomicLong READ = new AtomicLong();
  private static final AtomicLong TO_WINDOWS = new AtomicLong();
  private static final AtomicLong ARRIVED = new AtomicLong(); // read back from repartition
  private static final AtomicLong WINDOWED = new AtomicLong(); // the rest came too late
  private static volatile long firstNanos;
  private static volatile long firstCpuNanos;

  private PeerApp() {}

  /**
   * A deduplicated change: what the windows need of it, and its processed-order record. It
   * passes between processors in memory (no serde): only the record is written.
   */
  record Change(
      String currency, String from, String to, BigDecimal before, BigDecimal after, String processed) {}

  /** Legal FROM|TO status changes (orderstream.contract.LEGAL_TRANSITIONS). */
  static final Set<String> LEGAL =
      Set.of(
          "PENDING|PAID", "PENDING|CANCELLED", "PAID|SHIPPED", "PAID|CANCELLED",
          "SHIPPED|DELIVERED", "SHIPPED|REFUNDED", "DELIVERED|REFUNDED");

  static final Set<String> INITIAL = Set.of("PENDING", "PAID");

  static boolean legal(String from, String to) {
    if (from == null) {
      return INITIAL.contains(to);
    }
    return from.equals(to) || LEGAL.contains(from + "|" + to);
  }

  /** As Python's isoformat() of an aware UTC datetime (records.py). */
  static String iso(long micros) {
    LocalDateTime at =
        LocalDateTime.ofEpochSecond(
            Math.floorDiv(micros, 1_000_000L), 0, ZoneOffset.UTC);
    int fraction = (int) Math.floorMod(micros, 1_000_000L);
    StringBuilder out = new StringBuilder(32);
    pad(out, at.getYear(), 4).append('-');
    pad(out, at.getMonthValue(), 2).append('-');
    pad(out, at.getDayOfMonth(), 2).append('T');
    pad(out, at.getHour(), 2).append(':');
    pad(out, at.getMinute(), 2).append(':');
    pad(out, at.getSecond(), 2);
    if (fraction != 0) {
      pad(out.append('.'), fraction, 6);
    }
    return out.append("+00:00").toString();
  }

  private static StringBuilder pad(StringBuilder out, int value, int width) {
    String digits = Integer.toString(value);
    for (int i = digits.length(); i < width; i++) {
      out.append('0');
    }
    return out.append(digits);
  }

  private static long processedAtMillis = -1;
  private static String processedAt = "";

  /** Now, formatted once per millisecond (the dataflow formats it once per batch). */
  static String processedAt() {
    long millis = System.currentTimeMillis();
    if (millis != processedAtMillis) {
      processedAtMillis = millis;
      processedAt = iso(millis * 1000);
    }
    return processedAt;
  }

  static String money(String amount) {
    BigDecimal cents = new BigDecimal(amount).setScale(2, RoundingMode.HALF_EVEN);
    return cents.signum() == 0 ? "0.00" : cents.toPlainString();
  }

  /** The processed-order record of one change (dataflows/records.py, processed_order). */
  static String processed(JsonNode value, String op, JsonNode before, JsonNode image, long version) {
    ObjectNode out = JSON.createObjectNode();
    out.put("order_id", image.get("id").asLong());
    out.put("version", version);
    out.put("op", op);
    out.put("status", image.get("status").asText());
    String previous = before.isNull() ? null : before.get("status").asText();
    out.put("previous_status", previous);
    out.put("customer_id", image.get("customer_id").asLong());
    out.put("total_amount", money(image.get("total_amount").asText()));
    out.put("currency", image.get("currency").asText());
    out.put("created_at", iso(image.get("created_at").asLong()));
    out.put("updated_at", iso(image.get("updated_at").asLong()));
    JsonNode source = value.get("source");
    out.put("source_ts_ms", source.get("ts_ms").asLong());
    JsonNode file = source.get("file");
    JsonNode pos = source.get("pos");
    out.put(
        "source_position",
        file == null || file.asText().isEmpty() || pos == null || pos.isNull()
            ? null
            : file.asText() + ":" + pos.asLong() + ":" + source.path("row").asLong(0));
    out.put("processed_at", processedAt());
    ArrayNode anomalies = out.putArray("anomalies");
    boolean statusChange = op.equals("c") || op.equals("u");
    if (statusChange && !legal(op.equals("c") ? null : previous, image.get("status").asText())) {
      anomalies.add("illegal_transition");
    }
    return out.toString();
  }

  /** Per order id: the highest version seen; a change at or below it is a duplicate. */
  static final class Dedupe implements Processor<byte[], byte[], String, Change> {
    private ProcessorContext<String, Change> context;
    private KeyValueStore<String, Long> versions;

    @Override
    public void init(ProcessorContext<String, Change> context) {
      this.context = context;
      this.versions = context.getStateStore("versions");
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
      if (READ.getAndIncrement() == 0) {
        firstNanos = System.nanoTime();
        firstCpuNanos = cpuNanos();
      }
      if (record.value() == null) {
        return; // tombstone
      }
      try {
        JsonNode value = JSON.readTree(record.value());
        JsonNode before = value.get("before");
        JsonNode after = value.get("after");
        JsonNode image = after.isNull() ? before : after;
        String orderId = image.get("id").asText();
        long version = image.get("version").asLong();
        Long seen = versions.get(orderId);
        if (seen != null && seen >= version) {
          return;
        }
        versions.put(orderId, version);
        String from = before.isNull() ? "NONE" : before.get("status").asText();
        BigDecimal was = before.isNull() ? BigDecimal.ZERO : new BigDecimal(before.get("total_amount").asText());
        String to = after.isNull() ? "DELETED" : after.get("status").asText();
        BigDecimal now = after.isNull() ? BigDecimal.ZERO : new BigDecimal(after.get("total_amount").asText());
        long eventMillis = image.get("updated_at").asLong() / 1000;
        String op = value.get("op").asText();
        String out = processed(value, op, before, image, version);
        Change change = new Change(image.get("currency").asText(), from, to, was, now, out);
        context.forward(new Record<>(orderId, change, eventMillis));
      } catch (Exception err) {
        context.forward(new Record<>("dead-letter", null, record.timestamp()));
      }
    }
  }

  /** gross|refunds|adjustments|paid|refunds_count added by one change, or null. */
  static BigDecimal[] contribution(Change c) {
    BigDecimal zero = BigDecimal.ZERO;
    if (c.to().equals("PAID") && !c.from().equals("PAID")) {
      return new BigDecimal[] {c.after(), zero, zero, BigDecimal.ONE, zero};
    }
    if (c.to().equals("REFUNDED") && !c.from().equals("REFUNDED") && !c.from().equals("NONE")) {
      return new BigDecimal[] {zero, c.before(), zero, zero, BigDecimal.ONE};
    }
    if (c.from().equals(c.to()) && c.before().compareTo(c.after()) != 0) {
      return new BigDecimal[] {zero, zero, c.after().subtract(c.before()), zero, zero};
    }
    return null;
  }

  static String add(String totals, BigDecimal[] part) {
    String[] f = totals.split("\\|");
    List<String> out = new ArrayList<>(part.length);
    for (int i = 0; i < part.length; i++) {
      out.add(new BigDecimal(f[i]).add(part[i]).toPlainString());
    }
    return String.join("|", out);
  }

  static StreamsBuilder topology(String source, String prefix) {
    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(
        Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore("versions"), Serdes.String(), Serdes.Long()));
    KStream<String, Change> changes =
        builder.stream(source, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
            .process(Dedupe::new, "versions")
            .filter((key, value) -> !key.equals("dead-letter"));
    changes
        .mapValues(Change::processed)
        .to(prefix + "processed", Produced.with(Serdes.String(), Serdes.String()));

    TimeWindows minute = TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofSeconds(10));
    changes
        .flatMap(
            (orderId, change) -> {
              BigDecimal[] part = contribution(change);
              if (part == null) {
                return List.of();
              }
              List<String> fields = new ArrayList<>();
              for (BigDecimal p : part) {
                fields.add(p.toPlainString());
              }
              return List.of(KeyValue.pair(change.currency(), String.join("|", fields)));
            })
        .peek((k, v) -> TO_WINDOWS.incrementAndGet())
        .repartition(Repartitioned.<String, String>as("revenue").withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
        .peek((k, v) -> ARRIVED.incrementAndGet())
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(minute)
        .aggregate(
            () -> "0|0|0|0|0",
            (currency, part, totals) -> {
              WINDOWED.incrementAndGet();
              String[] f = part.split("\\|");
              BigDecimal[] add = new BigDecimal[f.length];
              for (int i = 0; i < f.length; i++) {
                add[i] = new BigDecimal(f[i]);
              }
              return add(totals, add);
            },
            Materialized.with(Serdes.String(), Serdes.String()))
        .toStream()
        .map((window, totals) -> KeyValue.pair(window.key() + "@" + window.window().start(), totals))
        .to(prefix + "revenue", Produced.with(Serdes.String(), Serdes.String()));

    changes
        .flatMap(
            (orderId, change) -> {
              if (change.from().equals(change.to()) || change.from().equals("NONE")) {
                return List.<KeyValue<String, String>>of();
              }
              return List.of(KeyValue.pair(change.from() + "|" + change.to(), "1"));
            })
        .peek((k, v) -> TO_WINDOWS.incrementAndGet())
        .repartition(Repartitioned.<String, String>as("transitions").withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
        .peek((k, v) -> ARRIVED.incrementAndGet())
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(minute)
        .aggregate(
            () -> 0L,
            (pair, one, count) -> {
              WINDOWED.incrementAndGet();
              return count + 1;
            },
            Materialized.with(Serdes.String(), Serdes.Long()))
        .toStream()
        .map((window, count) -> KeyValue.pair(window.key() + "@" + window.window().start(), Long.toString(count)))
        .to(prefix + "transitions", Produced.with(Serdes.String(), Serdes.String()));
    return builder;
  }

  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  static long peakRssBytes() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }

  /** For tests: reads change values on stdin, one per line, and prints each one's record. */
  static void printProcessedRecords() throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      JsonNode value = JSON.readTree(line);
      JsonNode before = value.get("before");
      JsonNode image = value.get("after").isNull() ? before : value.get("after");
      long version = image.get("version").asLong();
      System.out.println(processed(value, value.get("op").asText(), before, image, version));
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 1 && args[0].equals("--processed-records")) {
      printProcessedRecords();
      return;
    }
    if (args.length < 6) {
      System.err.println(
          "usage: PeerApp BOOTSTRAP SOURCE APPLICATION_ID OUTPUT_PREFIX EXPECTED STATE_DIR [PRODUCER_SETTING=VALUE ...]");
      System.exit(2);
    }
    String bootstrap = args[0], source = args[1], appId = args[2], prefix = args[3];
    long expected = Long.parseLong(args[4]);
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, -1); // the brokers' default
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    // The dataflow's producer settings (bench/peer_apps.py, PEER_PRODUCER_KEYS).
    for (int i = 6; i < args.length; i++) {
      String[] setting = args[i].split("=", 2);
      if (setting.length != 2) {
        System.err.println("not a PRODUCER_SETTING=VALUE: " + args[i]);
        System.exit(2);
      }
      props.put(StreamsConfig.producerPrefix(setting[0]), setting[1]);
    }

    KafkaStreams streams = new KafkaStreams(topology(source, prefix).build(), props);
    streams.setUncaughtExceptionHandler(
        err -> {
          err.printStackTrace();
          System.exit(1);
          return null;
        });
    streams.start();
    Instant deadline = Instant.now().plus(Duration.ofMinutes(30));
    long lastRead = -1;
    Instant lastProgress = Instant.now();
    while (READ.get() < expected || ARRIVED.get() < TO_WINDOWS.get()) {
      Thread.sleep(20);
      long read = READ.get() + ARRIVED.get();
      if (read != lastRead) {
        lastRead = read;
        lastProgress = Instant.now();
      } else if (Duration.between(lastProgress, Instant.now()).toSeconds() > 120 || Instant.now().isAfter(deadline)) {
        System.err.printf("stalled: read %d of %d, repartitioned %d of %d%n", READ.get(), expected, ARRIVED.get(), TO_WINDOWS.get());
        System.exit(1);
      }
    }
    double seconds = (System.nanoTime() - firstNanos) / 1e9;
    System.err.printf("windowed %d of %d; dropped as later than the grace: %d%n", WINDOWED.get(), ARRIVED.get(), ARRIVED.get() - WINDOWED.get());
    double cpu = (cpuNanos() - firstCpuNanos) / 1e9;
    ObjectNode out = JSON.createObjectNode();
    out.put("records", READ.get());
    out.put("seconds", seconds);
    out.put("cpu_seconds", cpu);
    out.put("total_cpu_seconds", cpuNanos() / 1e9);
    out.put("peak_rss_bytes", peakRssBytes());
    out.put("window_inputs", ARRIVED.get());
    out.put("late_dropped", ARRIVED.get() - WINDOWED.get());
    streams.close(Duration.ofSeconds(30));
    System.out.println(JSON.writeValueAsString(out));
    System.exit(0);
  }
}
