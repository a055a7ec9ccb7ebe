using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using Orleans.Messaging;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// A client's gateways from the Redis membership table: the Active silos with a gateway port, as Orleans'
/// RedisGatewayListProvider lists them, with two differences for a Redis that lost the table under running silos.
/// It never creates the table: Orleans' provider writes Version 0 when it starts on an empty Redis, which hands every
/// other client an empty gateway list (the client then closes all its connections) until the silos restore the table.
/// And it refuses a table older than one it has read (a refresh that fails keeps the client's list): that is a table
/// lost and begun again, perhaps by a lone new silo, while the running silos are about to write back the newer one.
/// </summary>
internal sealed class VersionCheckedGatewayListProvider(IMembershipTable table, IOptions<GatewayOptions> options, TimeProvider time) : IGatewayListProvider
{
    // Running silos restore a lost table at their next heartbeat (10 s) or table refresh; one still older after this
    // is a cluster begun anew (every silo restarted too), to follow rather than wait for.
    internal static readonly TimeSpan TrustOlderTableAfter = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private int _newestVersion = -1;
    private DateTimeOffset? _olderSince;
    private bool _initialized;

    public TimeSpan MaxStaleness => options.Value.GatewayListRefreshPeriod;

    public bool IsUpdatable => true;

    public async Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken = default)
    {
        // Connects only; the silos create the table.
        await table.InitializeMembershipTableAsync(tryInitTableVersion: false, cancellationToken);
        _initialized = true;
    }

    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken = default)
    {
        if (!_initialized)
        {
            await InitializeGatewayListProviderAsync(cancellationToken);
        }

        MembershipTableData membership;
        try
        {
            membership = await table.ReadAllAsync(cancellationToken);
        }
        catch (RedisClusteringException) when (NothingReadYet)
        {
            // No silo has created the table yet: no gateways, which a starting client waits out.
            return [];
        }

        Accept(membership.Version);
        return [.. membership.Members
            .Select(row => row.Item1)
            .Where(entry => entry.Status == SiloStatus.Active && entry.ProxyPort != 0)
            .Select(entry => SiloAddress.New(entry.SiloAddress.Endpoint.Address, entry.ProxyPort, entry.SiloAddress.Generation).ToGatewayUri())];
    }

    public Task InitializeGatewayListProvider() => InitializeGatewayListProviderAsync();

    public Task<IList<Uri>> GetGateways() => GetGatewaysAsync();

    private bool NothingReadYet
    {
        get
        {
            lock (_gate)
            {
                return _newestVersion < 0;
            }
        }
    }

    private void Accept(TableVersion version)
    {
        lock (_gate)
        {
            if (version.Version >= _newestVersion)
            {
                (_newestVersion, _olderSince) = (version.Version, null);
                return;
            }

            var now = time.GetUtcNow();
            _olderSince ??= now;
            if (now - _olderSince < TrustOlderTableAfter)
            {
                throw new RedisClusteringException($"The Redis membership table is at version {version.Version}, older than version {_newestVersion} read before: Redis lost it, and the running silos restore it; the gateway list stays as it was meanwhile.");
            }

            (_newestVersion, _olderSince) = (version.Version, null);
        }
    }
}
