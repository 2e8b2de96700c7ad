// Parses SQL statements with Trino's own parser (the dialect of Athena engine v3).
// Run with Java's single-file source launcher: java -cp '<lib>/*' SqlParse.java
//
// Input: one statement per stdin line, base64 of its UTF-8 text, so any SQL (newlines, `;`,
// quotes) passes intact. Output: one line per statement, in order: `ok <n>` where n counts the
// `?` parameters (as Trino counts them to bind EXECUTE ... USING), or `error: <message>`.
import io.trino.sql.parser.ParsingOptions;
import io.trino.sql.parser.ParsingOptions.DecimalLiteralTreatment;
import io.trino.sql.parser.SqlParser;
import io.trino.sql.tree.DefaultTraversalVisitor;
import io.trino.sql.tree.Parameter;
import io.trino.sql.tree.Statement;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

public class SqlParse {
  // Trino's engine default: `1.5` is a DECIMAL (the no-argument options reject it).
  private static final ParsingOptions OPTIONS =
      new ParsingOptions(DecimalLiteralTreatment.AS_DECIMAL);

  /** Counts Parameter nodes the way Trino's own ParameterExtractor does. */
  private static final class ParameterCounter extends DefaultTraversalVisitor<Void> {
    int count;

    @Override
    protected Void visitParameter(Parameter node, Void context) {
      count++;
      return null;
    }
  }

  public static void main(String[] args) throws Exception {
    SqlParser parser = new SqlParser();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    // UTF-8 whatever the locale: messages quote the SQL, which may be any text.
    PrintStream out =
        new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    for (String line; (line = in.readLine()) != null; ) {
      String sql = new String(Base64.getDecoder().decode(line.trim()), StandardCharsets.UTF_8);
      out.println(parse(parser, sql));
    }
    out.flush();
  }

  private static String parse(SqlParser parser, String sql) {
    try {
      Statement statement = parser.createStatement(sql, OPTIONS);
      ParameterCounter counter = new ParameterCounter();
      counter.process(statement, null);
      return "ok " + counter.count;
    } catch (RuntimeException | StackOverflowError e) {
      // A message may quote a multi-line token; keep the answer on one line.
      String message = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
      return "error: " + message.replaceAll("\\s*\\R\\s*", " ");
    }
  }
}
