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
        try (Connection conn = DriverManager.getConnection(url, "spirit", "")) {
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
