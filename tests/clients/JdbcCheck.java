// pgjdbc (the driver Metabase uses) against a running spirit server.
// Usage: java -cp /usr/share/java/postgresql.jar JdbcCheck.java PORT
import java.math.BigDecimal;
import java.sql.*;

public class JdbcCheck {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/spirit";
        try (Connection conn = DriverManager.getConnection(url, "spirit", "spirit")) {
            // The README query through a plain Statement.
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery(
                     "SELECT channel, count(*), sum(price_paid) FROM bookings GROUP BY 1 ORDER BY 1")) {
                int rows = 0;
                while (rs.next()) {
                    rows++;
                    check(rs.getBigDecimal(3).compareTo(BigDecimal.ZERO) > 0, "revenue > 0");
                }
                check(rows == 3, "three channels, got " + rows);
            }

            // A prepared statement run past prepareThreshold (5), so pgjdbc switches to a
            // named server-side statement and binary transfer.
            String sql = "SELECT count(*), max(price_paid) FROM bookings "
                + "WHERE channel = ? AND created_at >= ? AND travel_date >= ? AND travelers >= ? "
                + "AND price_paid > ? AND (channel = 'B2C') = ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 0; i < 8; i++) {
                    ps.setString(1, i % 2 == 0 ? "B2C" : "B2B");
                    ps.setTimestamp(2, Timestamp.valueOf("2025-01-01 00:00:00"));
                    ps.setDate(3, Date.valueOf("2025-01-01"));
                    ps.setInt(4, 1);
                    ps.setBigDecimal(5, new BigDecimal("10.50"));
                    ps.setBoolean(6, i % 2 == 0);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "one row");
                        check(rs.getLong(1) > 0, "bookings found on run " + i);
                        check(rs.getBigDecimal(2) != null, "max price");
                    }
                }
            }

            // DDL and DML through executeUpdate, with parameters.
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("CREATE TABLE jdbc_items (id BIGINT, label TEXT, added DATE)");
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO jdbc_items VALUES (?, ?, ?)")) {
                for (int i = 1; i <= 3; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, "item " + i);
                    ps.setDate(3, Date.valueOf("2026-01-0" + i));
                    check(ps.executeUpdate() == 1, "one row inserted");
                }
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM jdbc_items")) {
                check(rs.next() && rs.getLong(1) == 3, "three items");
                st.executeUpdate("DROP TABLE jdbc_items");
            }

            // Metadata as Metabase and DBeaver read it: metric views with their descriptions.
            DatabaseMetaData md = conn.getMetaData();
            try (ResultSet rs = md.getTables(null, "metrics", "revenue_daily", new String[]{"VIEW"})) {
                check(rs.next(), "metrics.revenue_daily listed as a view");
                String remarks = rs.getString("REMARKS");
                check(remarks != null && remarks.contains("confirmed"), "view remarks: " + remarks);
            }
            try (ResultSet rs = md.getColumns(null, "metrics", "revenue_daily", "day")) {
                check(rs.next(), "column day listed");
                check("date".equals(rs.getString("TYPE_NAME")), "day is a date");
                String remarks = rs.getString("REMARKS");
                check(remarks != null && remarks.contains("day"), "column remarks: " + remarks);
            }

            // What Metabase's and DBeaver's sync call: schemas, tables, primary keys, types.
            java.util.Set<String> schemas = new java.util.HashSet<>();
            try (ResultSet rs = md.getSchemas()) {
                while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
            }
            check(schemas.containsAll(java.util.List.of("public", "metrics", "spirit", "pg_catalog")),
                "getSchemas: " + schemas);
            java.util.Set<String> tables = new java.util.HashSet<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"TABLE"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            check(tables.containsAll(java.util.List.of("bookings", "tours", "customers")),
                "getTables(public): " + tables);
            int views = 0;
            try (ResultSet rs = md.getTables(null, "metrics", "%", new String[]{"VIEW"})) {
                while (rs.next()) views++;
            }
            check(views >= 20, "getTables(metrics, VIEW): " + views);
            // Primary keys (Metabase's entity keys) and foreign keys (its automatic joins).
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "external_factors")) {
                java.util.List<String> key = new java.util.ArrayList<>();
                while (rs.next()) {
                    key.add(rs.getShort("KEY_SEQ") + ":" + rs.getString("COLUMN_NAME"));
                    check(rs.getString("PK_NAME") != null, "getPrimaryKeys PK_NAME");
                }
                check(key.equals(java.util.List.of("1:day", "2:region")), "getPrimaryKeys: " + key);
            }
            try (ResultSet rs = md.getImportedKeys(null, "public", "payments")) {
                check(rs.next(), "getImportedKeys(payments) has a row");
                check("bookings".equals(rs.getString("PKTABLE_NAME"))
                        && "booking_id".equals(rs.getString("PKCOLUMN_NAME"))
                        && "booking_id".equals(rs.getString("FKCOLUMN_NAME")),
                    "getImportedKeys: " + rs.getString("PKTABLE_NAME") + "." + rs.getString("PKCOLUMN_NAME"));
                check(!rs.next(), "payments has one foreign key");
            }
            java.util.Set<String> typeNames = new java.util.HashSet<>();
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) typeNames.add(rs.getString("TYPE_NAME"));
            }
            check(typeNames.containsAll(java.util.List.of("int8", "text", "numeric", "timestamp", "bool")),
                "getTypeInfo: " + typeNames.size() + " types");

            // A fetch size inside a transaction: pgjdbc reads through a named portal in
            // batches, with a Sync between them.
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT booking_id FROM bookings WHERE tour_id = ? ORDER BY booking_id")) {
                ps.setFetchSize(50);
                ps.setInt(1, 7);
                long rows = 0, last = -1;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long id = rs.getLong(1);
                        check(id > last, "ordered ids across fetches");
                        last = id;
                        rows++;
                    }
                }
                check(rows > 50, "more rows than one fetch: " + rows);
            }
            conn.commit();
            conn.setAutoCommit(true);

            // Errors carry SQLSTATE and the connection stays usable.
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT * FROM no_such_table");
                throw new AssertionError("no error for an unknown table");
            } catch (SQLException e) {
                check("42P01".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState());
            }
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
                check(rs.next() && rs.getInt(1) == 1, "usable after error");
            }
        }
        System.out.println("pgjdbc: OK");
    }
}
