// pgjdbc over TLS (sslmode=require): SCRAM login, a query, and 28P01 for a wrong password.
// Run: java -cp /usr/share/java/postgresql.jar JdbcTls.java PORT

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class JdbcTls {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/spirit?sslmode=require";
        try (Connection conn = DriverManager.getConnection(url, "spirit", "spirit");
             Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM tours")) {
            check(rs.next() && rs.getLong(1) == 60, "60 tours over TLS");
        }
        try {
            DriverManager.getConnection(url, "spirit", "wrong").close();
            throw new AssertionError("a wrong password must be refused");
        } catch (SQLException e) {
            check("28P01".equals(e.getSQLState()), "28P01, got " + e.getSQLState());
        }
        System.out.println("ok");
    }
}
