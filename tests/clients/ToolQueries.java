// Replays the queries a BI tool sends (queries/tests/tools/<tool>.sql) through pgjdbc, as
// Metabase and DBeaver run them: each as a PreparedStatement, executed twice past pgjdbc's
// prepareThreshold so the later runs use a named server-side statement and binary results.
//
// A fixture is a list of statements separated by blank lines, each ending with `;`, each
// preceded by `-- source:` (where the tool sends it) and optionally `-- expect: rows` (it must
// return at least one row).
// Run: java -cp /usr/share/java/postgresql.jar ToolQueries.java PORT FILE...

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

public class ToolQueries {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/spirit?prepareThreshold=1";
        List<String> failures = new ArrayList<>();
        int ran = 0;
        try (Connection conn = DriverManager.getConnection(url, "spirit", "spirit")) {
            for (int f = 1; f < args.length; f++) {
                Path file = Path.of(args[f]);
                String text = Files.readString(file);
                for (String statement : text.split(";\\s*\\n\\s*\\n")) {
                    String sql = statement.strip();
                    if (sql.endsWith(";")) sql = sql.substring(0, sql.length() - 1);
                    if (sql.lines().allMatch(l -> l.isBlank() || l.strip().startsWith("--"))) continue;
                    boolean wantRows = sql.contains("-- expect: rows");
                    String where = file.getFileName() + ": " + sql.lines()
                        .filter(l -> l.startsWith("-- source:")).findFirst().orElse(sql);
                    ran++;
                    try (PreparedStatement ps = conn.prepareStatement(sql)) {
                        for (int run = 0; run < 3; run++) {
                            if (!ps.execute()) continue;
                            int rows = 0;
                            try (ResultSet rs = ps.getResultSet()) {
                                int cols = rs.getMetaData().getColumnCount();
                                while (rs.next()) {
                                    for (int c = 1; c <= cols; c++) rs.getObject(c);
                                    rows++;
                                }
                            }
                            if (wantRows && rows == 0) {
                                failures.add(where + "\n  returned no rows");
                                break;
                            }
                        }
                    } catch (SQLException e) {
                        failures.add(where + "\n  " + e.getSQLState() + ": " + e.getMessage());
                    }
                }
            }
        }
        if (!failures.isEmpty()) {
            System.out.println(String.join("\n", failures));
            throw new AssertionError(failures.size() + " of " + ran + " tool queries failed");
        }
        System.out.println("tool queries: " + ran + " OK");
    }
}
