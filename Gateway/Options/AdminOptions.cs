namespace Chihaya.Orleans.Gateway.Options;

/// <summary>The admin API. Section "Admin".</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>
    /// The bearer token the site sends as <c>Authorization: Bearer …</c>. Empty disables the admin API.
    /// A secret: set it from the environment (<c>Admin__Token</c>), never in a committed file.
    /// </summary>
    public string Token { get; set; } = "";

    /// <summary>
    /// The one port (among the gateway's <c>Urls</c>) on which the admin API, the status page and <c>/metrics</c>
    /// answer; on every other port they are 421 Misdirected Request. 0: on every port, as the one-process default has
    /// them. Set where the announce port faces the internet (the Kubernetes base: 9969, a ClusterIP Service of its
    /// own), so the token never crosses it and nobody outside can try tokens. The connection's own port decides,
    /// never the Host header, which the sender writes.
    /// </summary>
    public int Port { get; set; }

    public const string PortProblem =
        "Admin:Port must be 0 (the admin API, status page and /metrics on every port) or one of the ports the gateway listens on (Urls).";

    /// <summary>True when <see cref="Port"/> is 0 or the port of one of <paramref name="urls"/> (whatever each one's host).</summary>
    public bool PortIsAmong(string? urls)
    {
        if (Port == 0)
        {
            return true;
        }

        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                if (Microsoft.AspNetCore.Http.BindingAddress.Parse(url).Port == Port)
                {
                    return true;
                }
            }
            catch (FormatException)
            {
                // Not a URL: the start refuses it on its own (StartupProblems.HttpListeners).
            }
        }

        return false;
    }

    /// <summary>The shortest token accepted: guessed over the network, a shorter one could be found.</summary>
    public const int MinimumTokenLength = 16;

    public const string WeakTokenProblem =
        "Admin:Token must be empty (the admin API off) or 16 characters or more, and not the examples' placeholder CHANGE-ME: a weak token can be guessed over the network.";

    /// <summary>Long enough, and not the placeholder the examples ship (deploy/systemd/gateway.env.example).</summary>
    public static bool IsStrongEnough(string token) =>
        token.Length >= MinimumTokenLength && !token.Contains("CHANGE-ME", StringComparison.OrdinalIgnoreCase);
}
