using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// A Redis password with a comma (generated ones may have one) cannot be written into <c>Cluster:Redis</c>, which
/// StackExchange.Redis splits at every comma; given as <c>Cluster:RedisPassword</c>, silos and gateways cluster through it.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class RedisPasswordTests
{
    private const string Password = "generated,with=a-comma";

    [Fact]
    public async Task PasswordWithACommaGivenAsRedisPassword_SiloAndGatewayClusterThroughRedisAndServe()
    {
        await using var redis = await PasswordProtectedRedis.StartAsync(Password);
        await using var cluster = await ProcessCluster.StartAsync(
            silos: 1, new Dictionary<string, string> { ["Cluster__RedisPassword"] = Password }, redis: redis.Address);
        const string passkey = "redispassworduser00000000000001";
        var infoHash = UrlBytes.Random20();
        await cluster.Database.ExecuteAsync("insert into users (id, passkey) values (1, $1)", passkey);
        await cluster.Database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", infoHash);

        var reply = await cluster.AnnounceUntilAcceptedAsync(new Announcer(passkey, infoHash, UrlBytes.Random20()), 0, 0, 100, TimeSpan.FromSeconds(60), "started");

        Assert.Null(FailureReason(reply));
        Assert.Equal([SiloStatus.Active], (await cluster.MembershipAsync()).Values);
        Assert.DoesNotContain(Password, cluster.Logs, StringComparison.Ordinal);
    }
}
