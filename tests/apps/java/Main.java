// Sample app for java_buildpack: answers GET / and exits on GET /crash.
// Build an executable jar with:  javac -d classes Main.java && jar --create --file app.jar --main-class Main -C classes .
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class Main {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(System.getenv("PORT"));
        String index = System.getenv().getOrDefault("CF_INSTANCE_INDEX", "?");
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", port), 0);
        server.createContext("/", exchange -> {
            if (exchange.getRequestURI().getPath().equals("/crash")) {
                System.out.println("crashing on request");
                Runtime.getRuntime().halt(3);
            }
            byte[] body = ("hello from java, instance " + index + "\n").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        long maxHeapMb = Runtime.getRuntime().maxMemory() / (1024 * 1024);
        System.out.println("java sample listening on " + port + " (java " + System.getProperty("java.version")
                + ", max heap " + maxHeapMb + "M)");
    }
}
