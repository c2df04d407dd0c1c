/*
 * Decodes Liandong message values (Avro single-object encoding: C3 01, the 8-byte little-endian
 * CRC-64-AVRO fingerprint of the writer schema, the Avro binary body) with Apache Avro for Java's
 * org.apache.avro.message.BinaryMessageDecoder, given the writer schema, and prints each record as
 * JSON (GenericRecord.toString()), one line per value, on stdout.
 *
 * Java 11+ single-source launch, with the jars that tests/java/pom.xml names:
 *
 *   java -cp '<jars>/*' tests/java/DecodeLiandong.java <schema.avsc> <value> [<schema.avsc> <value> ...]
 *
 * <schema.avsc> is a self-contained (expanded) schema JSON; <value> is a file holding the message
 * value, as hex text when its name ends in .hex, as raw bytes otherwise. Several pairs are decoded
 * in one JVM. Exits 1 when any value does not decode (each error on stderr), 2 on bad arguments.
 */

import java.io.File;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HexFormat;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

public class DecodeLiandong {
    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args.length % 2 != 0) {
            System.err.println("usage: DecodeLiandong <schema.avsc> <value.bin|value.hex> [<schema.avsc> <value> ...]");
            System.exit(2);
        }
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        int failures = 0;
        for (int i = 0; i < args.length; i += 2) {
            String schemaFile = args[i];
            String valueFile = args[i + 1];
            try {
                Schema schema = new Schema.Parser().parse(new File(schemaFile));
                BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), schema);
                GenericRecord record = decoder.decode(readValue(valueFile));
                out.println(record.toString());
            } catch (Exception e) {
                failures++;
                err.println("DecodeLiandong: " + valueFile + " (schema " + schemaFile + "): "
                        + e.getClass().getName() + ": " + e.getMessage());
            }
        }
        out.flush();
        err.flush();
        System.exit(failures == 0 ? 0 : 1);
    }

    private static byte[] readValue(String path) throws Exception {
        byte[] raw = Files.readAllBytes(new File(path).toPath());
        if (path.endsWith(".hex")) {
            String hex = new String(raw, StandardCharsets.US_ASCII).replaceAll("\\s+", "");
            return HexFormat.of().parseHex(hex);
        }
        return raw;
    }
}
