// Runs a standalone Solr server for the local stack, with the Jetty runner
// that Solr's test framework ships (org.apache.solr.embedded.JettySolrRunner).
//
//   java -cp 'lib/*' Launcher.java SOLR_HOME PORT
//
// Binds 127.0.0.1, serves under /solr, fails at once if the port is taken,
// and stops cleanly on SIGTERM.
import java.util.Properties;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;

public class Launcher {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: Launcher SOLR_HOME PORT");
      System.exit(2);
    }
    String home = args[0];
    int port = Integer.parseInt(args[1]);
    System.setProperty("solr.solr.home", home);
    System.setProperty("host", "127.0.0.1");
    JettyConfig config = JettyConfig.builder()
        .setPort(port)
        .setContext("/solr")
        .withPortRetryTime(0)
        .stopAtShutdown(true)
        .build();
    JettySolrRunner runner = new JettySolrRunner(home, new Properties(), config);
    try {
      runner.start();
    } catch (Exception e) {
      System.err.println("Solr could not start on 127.0.0.1:" + port + ": " + e);
      System.exit(1);
    }
    System.out.println("Solr listening on http://127.0.0.1:" + runner.getLocalPort() + "/solr");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        runner.stop();
      } catch (Exception e) {
        System.err.println("Solr stop failed: " + e);
      }
    }));
    Thread.currentThread().join();
  }
}
