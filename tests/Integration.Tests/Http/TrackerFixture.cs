using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>One embedded tracker on a loopback port, shared by a collection; each test registers its own users and torrents.</summary>
public sealed class TrackerFixture : IAsyncLifetime
{
    private static long _nextId;

    public TrackerHost Host { get; private set; } = null!;

    public static long NextId() => Interlocked.Increment(ref _nextId);

    public static string NewPasskey() => Guid.NewGuid().ToString("N");

    public async Task InitializeAsync() => Host = await TrackerHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();

    /// <summary>A new user with its passkey.</summary>
    public async Task<string> NewUserAsync(decimal upload = 1m, decimal download = 1m, bool canLeech = true)
    {
        var passkey = NewPasskey();
        await Host.PutUserAsync(passkey, NextId(), upload, download, canLeech);
        return passkey;
    }

    /// <summary>A new registered torrent's raw info hash.</summary>
    public async Task<byte[]> NewTorrentAsync(decimal upload = 1m, decimal download = 1m)
    {
        var hash = UrlBytes.Random20();
        await Host.PutTorrentAsync(hash, NextId(), upload, download);
        return hash;
    }
}

[CollectionDefinition(Name)]
public sealed class TrackerCollection : ICollectionFixture<TrackerFixture>
{
    public const string Name = "tracker";
}
