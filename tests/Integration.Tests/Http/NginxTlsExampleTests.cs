using System.Diagnostics;
using System.Net;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>
/// The README's HTTPS example, <c>deploy/nginx/chihaya-tls.conf</c>, run for real: Debian's nginx with that file (only
/// ports, certificate and log paths changed) terminates TLS in front of a gateway, a client announces over HTTPS, and
/// the gateway sees the client's address through the proxy and no passkey reaches nginx's logs.
/// </summary>
public sealed class NginxTlsExampleTests
{
    [Fact]
    public async Task AnnounceOverHttps_ThroughTheExample_ReachesTheGatewayWithTheClientsAddress()
    {
        await using var host = await TrackerHost.StartAsync(new Dictionary<string, string?> { ["Gateway:TrustedProxies:0"] = "127.0.0.1/32" });
        var folder = Directory.CreateTempSubdirectory("chihaya-tls-");
        try
        {
            var (httpPort, httpsPort) = (FreePorts.Next(), FreePorts.Next());
            var config = await WriteConfigAsync(folder.FullName, host.BaseAddress.Port, httpPort, httpsPort);
            var passkey = TrackerFixture.NewPasskey();
            await host.PutUserAsync(passkey, 1);
            var hash = UrlBytes.Random20();
            await host.PutTorrentAsync(hash, 1);

            await using var nginx = ProjectProcess.StartProgram("nginx", "/usr/sbin/nginx", "-p", folder.FullName, "-c", config, "-e", Path.Combine(folder.FullName, "startup.log"));
            // The client connects from 127.0.0.2 (all of 127/8 is this host's), nginx from 127.0.0.1: the address the
            // gateway takes for the peer shows whether it came through X-Real-IP from the trusted proxy.
            using var https = new HttpClient(new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
                ConnectCallback = async (context, cancellationToken) =>
                {
                    var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    try
                    {
                        socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                        await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                        return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            })
            {
                BaseAddress = new Uri($"https://127.0.0.1:{httpsPort}"),
            };
            var seeder = new Announcer(passkey, hash, UrlBytes.Random20(), 7001);
            await Eventually.TrueAsync(
                async () =>
                {
                    try
                    {
                        using var response = await https.GetAsync(seeder.Url(0, 0, 0, "started"));
                        return response.StatusCode == HttpStatusCode.OK && Replies.FailureReason(Bencode.DecodeDictionary(await response.Content.ReadAsByteArrayAsync())) is null;
                    }
                    catch (HttpRequestException)
                    {
                        return nginx.HasExited ? throw new InvalidOperationException("nginx exited: " + nginx.Output) : false;
                    }
                },
                "an announce over HTTPS accepted through nginx");

            using var leech = await https.GetAsync(new Announcer(passkey, hash, UrlBytes.Random20(), 7002).Url(0, 0, 100, "started"));
            var reply = Bencode.DecodeDictionary(await leech.Content.ReadAsByteArrayAsync());

            // The seeder's address is the one nginx saw (X-Real-IP from the trusted proxy), with the seeder's port.
            var peers = (byte[])reply["peers"];
            Assert.Equal([127, 0, 0, 2, 7001 >> 8, 7001 & 0xff], peers);
            // The admin API through the same proxy: its user paths end with the passkey, also when written in another
            // case or percent-encoded, which the gateway routes all the same.
            foreach (var path in new[] { $"/admin/users/{passkey}", $"/ADMIN/user%73/{passkey}" })
            {
                using var admin = new HttpRequestMessage(HttpMethod.Get, path);
                admin.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", host.AdminToken);
                using var user = await https.SendAsync(admin);
                Assert.Equal(HttpStatusCode.OK, user.StatusCode);
            }

            // Plain HTTP takes announces but not the admin token; metrics are for Prometheus alone, whatever the case.
            using (var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") })
            {
                foreach (var path in new[] { $"/admin/users/{passkey}", $"/ADMIN/users/{passkey}", "/status/data" })
                {
                    using var refused = await plain.GetAsync(path);
                    Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
                }

                using var announced = await plain.GetAsync(new Announcer(passkey, hash, UrlBytes.Random20(), 7003).Url(0, 0, 100, "started"));
                Assert.Null(Replies.FailureReason(Bencode.DecodeDictionary(await announced.Content.ReadAsByteArrayAsync())));
            }

            using (var metrics = await https.GetAsync("/METRICS"))
            {
                Assert.Equal(HttpStatusCode.Forbidden, metrics.StatusCode);
            }

            var logs = string.Concat(Directory.GetFiles(folder.FullName, "*.log").Select(File.ReadAllText));
            Assert.Contains("/PASSKEY/announce", logs);
            Assert.Contains("\"GET /REDACTED\"", logs);
            Assert.DoesNotContain(passkey, logs);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The example as shipped, with ports, certificate, log paths and upstreams pointed at this test's.</summary>
    private static async Task<string> WriteConfigAsync(string folder, int gatewayPort, int httpPort, int httpsPort)
    {
        var (certificate, key) = (Path.Combine(folder, "cert.pem"), Path.Combine(folder, "key.pem"));
        using (var openssl = Process.Start("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=tracker.example.org", "-keyout", key, "-out", certificate])!)
        {
            await openssl.WaitForExitAsync();
            Assert.Equal(0, openssl.ExitCode);
        }

        var nginxFolder = Path.Combine(RepositoryPaths.Root, "deploy", "nginx");
        var example = (await File.ReadAllTextAsync(Path.Combine(nginxFolder, "chihaya-tls.conf")))
            .Replace("server 10.0.0.11:6969", $"server 127.0.0.1:{gatewayPort}", StringComparison.Ordinal)
            .Replace("    server 10.0.0.12:6969 max_fails=1 fail_timeout=1s;\n", "", StringComparison.Ordinal)
            .Replace("listen 80;", $"listen 127.0.0.1:{httpPort};", StringComparison.Ordinal)
            .Replace("listen 443 ssl http2;", $"listen 127.0.0.1:{httpsPort} ssl http2;", StringComparison.Ordinal)
            .Replace("    listen [::]:80;\n", "", StringComparison.Ordinal)
            .Replace("    listen [::]:443 ssl http2;\n", "", StringComparison.Ordinal)
            .Replace("/etc/letsencrypt/live/tracker.example.org/fullchain.pem", certificate, StringComparison.Ordinal)
            .Replace("/etc/letsencrypt/live/tracker.example.org/privkey.pem", key, StringComparison.Ordinal)
            .Replace("/var/log/nginx/", folder + "/", StringComparison.Ordinal)
            .Replace("/etc/nginx/chihaya-proxy.conf", Path.Combine(nginxFolder, "chihaya-proxy.conf"), StringComparison.Ordinal);
        Assert.DoesNotContain("server 10.0.0.", example);
        await File.WriteAllTextAsync(Path.Combine(folder, "chihaya-tls.conf"), example);

        // What Debian's /etc/nginx/nginx.conf gives every file in conf.d/, with this folder for everything written.
        var main = Path.Combine(folder, "nginx.conf");
        await File.WriteAllTextAsync(main, $$"""
            daemon off;
            worker_processes 1;
            pid {{folder}}/nginx.pid;
            error_log {{folder}}/main-error.log crit;
            events { worker_connections 64; }
            http {
                client_body_temp_path {{folder}}/body;
                proxy_temp_path {{folder}}/proxy;
                fastcgi_temp_path {{folder}}/fastcgi;
                uwsgi_temp_path {{folder}}/uwsgi;
                scgi_temp_path {{folder}}/scgi;
                include {{folder}}/chihaya-tls.conf;
            }
            """);
        if (OperatingSystem.IsLinux())
        {
            // nginx's workers run as nobody when the tests run as root: they must reach the logs.
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111);
        }

        return main;
    }
}
