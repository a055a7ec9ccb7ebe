using StackExchange.Redis;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>How silos and gateways form a cluster. Section "Cluster".</summary>
public sealed class TrackerClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>
    /// Gateway only. <c>Embedded</c>: gateway and silo in one process, no external services (the default).
    /// <c>Client</c>: the gateway is an Orleans client of silos running in other processes.
    /// </summary>
    public string Mode { get; set; } = ClusterModes.Embedded;

    /// <summary>Orleans cluster id; must match the silos'.</summary>
    public string ClusterId { get; set; } = "chihaya";

    /// <summary>Orleans service id; must match the silos'.</summary>
    public string ServiceId { get; set; } = "chihaya";

    /// <summary>
    /// Gateway in Client mode with localhost clustering: the silos' gateway ports on this host. Empty means
    /// just <see cref="GatewayPort"/>. (Empty by default because configuration appends to a default list.)
    /// </summary>
    public int[] LocalSiloGatewayPorts { get; set; } = [];

    /// <summary>
    /// How silos and gateways find each other. <c>Localhost</c>: one machine, no external service (gateways
    /// use <see cref="LocalSiloGatewayPorts"/>). <c>Redis</c>: membership in Redis (<see cref="Redis"/>), any
    /// number of silos and gateways on any hosts.
    /// </summary>
    public string Membership { get; set; } = ClusterMemberships.Localhost;

    /// <summary>
    /// StackExchange.Redis configuration for <c>Redis</c> membership, e.g. <c>redis:6379,password=…</c>. A secret
    /// when it holds a password: pass it by environment (<c>Cluster__Redis</c>).
    /// </summary>
    public string Redis { get; set; } = "";

    /// <summary>
    /// The Redis password, when <see cref="Redis"/> cannot carry it: StackExchange.Redis splits its configuration at every
    /// comma and has no escape, so a password with a comma in it (as generated ones may have) goes here. Replaces any
    /// <c>password=</c> in <see cref="Redis"/>. A secret: pass it by environment (<c>Cluster__RedisPassword</c>).
    /// </summary>
    public string RedisPassword { get; set; } = "";

    /// <summary>
    /// The address a silo tells others to reach it at (<c>Redis</c> membership). Empty: this host's first
    /// non-loopback IPv4 address, or loopback when there is none. On Kubernetes, the pod IP.
    /// </summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>How long a gateway waits for a grain call before failing the announce (clients retry later).</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The silo-to-silo port of a silo (or of the embedded one).</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port of a silo that Orleans clients (gateways) connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// Silo only, with <c>Redis</c> membership: the silo runs in a Kubernetes pod and watches its fellow silos' pods, so a
    /// deleted pod's silo is declared dead at once and a silo declared dead has its pod deleted (see
    /// <see cref="KubernetesSiloHosting"/>; needs the pod's name and namespace from the downward API and a role that
    /// may get, list, watch, patch and delete pods).
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>
    /// <see cref="Redis"/> read by StackExchange.Redis, with <see cref="RedisPassword"/> when one is given; an
    /// <see cref="ArgumentException"/> when it cannot be read (its message may quote the setting, password and all).
    /// </summary>
    public ConfigurationOptions ReadRedisConfiguration()
    {
        var redis = ConfigurationOptions.Parse(Redis);
        if (RedisPassword.Length > 0)
        {
            redis.Password = RedisPassword;
        }

        return redis;
    }
}

