using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Chihaya.Orleans.Gateway.Http;
using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>
/// Counts, per client address, the passkeys the cluster answered the site does not know, in windows of a minute; an
/// address past <see cref="GatewayOptions.UnknownPasskeysPerMinute"/> is refused without a grain call until its window
/// ends. Each random passkey costs a silo a database read, and a random info hash beside it a swarm's activation, so a
/// single source could otherwise keep the silos' first-read slots full. An IPv6 address counts by its /64, which one
/// host holds whole. Addresses that are no single client's are not held (<see cref="ClientAddressResolver.SingleClient"/>). Clients sharing an address (a NAT, a shared seedbox) share its count: the limit is well above
/// what a few stale passkeys send (each counts once per <see cref="GatewayOptions.UnknownKeyLifetime"/>).
/// Bounded: at most <see cref="Capacity"/> addresses a window; beyond that, new ones are not counted.
/// </summary>
internal sealed partial class UnknownPasskeyLimit(
    IOptionsMonitor<GatewayOptions> options, ClientAddressResolver addresses, TimeProvider time, ILogger<UnknownPasskeyLimit> logger)
{
    public const int Capacity = 65_536;
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly Lock _rollGate = new();
    private ConcurrentDictionary<IPAddress, int> _counts = new();
    // Read on every announce: 0 while nobody sends unknown passkeys, when no address is even looked up.
    private int _counted;
    // Addresses in this window's dictionary, kept beside it: its own Count takes every one of its locks.
    private int _addresses;
    private long _windowEndsAt;

    /// <summary>Some address has sent an unknown passkey this window (else no address need be looked up).</summary>
    public bool AnyCounted => Volatile.Read(ref _counted) != 0;

    /// <summary>The client (its address as resolved) has sent more unknown passkeys this minute than it may.</summary>
    public bool IsOverLimit(IPAddress? resolved)
    {
        var limit = options.CurrentValue.UnknownPasskeysPerMinute;
        if (limit == 0 || !AnyCounted || addresses.SingleClient(resolved) is not { } client)
        {
            return false;
        }

        var counts = CurrentCounts();
        return counts.TryGetValue(Source(client), out var count) && count >= limit;
    }

    /// <summary>The cluster answered that the site does not know a passkey this client (its address as resolved) sent.</summary>
    public void Count(IPAddress? resolved)
    {
        if (options.CurrentValue.UnknownPasskeysPerMinute == 0 || addresses.SingleClient(resolved) is not { } client)
        {
            return;
        }

        var counts = CurrentCounts();
        var source = Source(client);
        int count;
        if (counts.TryAdd(source, 1))
        {
            count = 1;
            if (Interlocked.Increment(ref _addresses) > Capacity)
            {
                // Over capacity: this address goes uncounted (a flood of addresses gains nothing from counting).
                counts.TryRemove(source, out _);
                Interlocked.Decrement(ref _addresses);
                return;
            }
        }
        else
        {
            count = counts.AddOrUpdate(source, 1, static (_, count) => count + 1);
        }

        Interlocked.Increment(ref _counted);
        if (count == options.CurrentValue.UnknownPasskeysPerMinute)
        {
            Log.Holding(logger, source.ToString(), count);
        }
    }

    private ConcurrentDictionary<IPAddress, int> CurrentCounts()
    {
        var now = time.GetTimestamp();
        if (now >= Volatile.Read(ref _windowEndsAt))
        {
            lock (_rollGate)
            {
                if (now >= _windowEndsAt)
                {
                    // Counters first: a count made into the new window as it is published must not be zeroed after it.
                    Volatile.Write(ref _counted, 0);
                    Volatile.Write(ref _addresses, 0);
                    Volatile.Write(ref _counts, new ConcurrentDictionary<IPAddress, int>());
                    Volatile.Write(ref _windowEndsAt, now + (long)(Window.TotalSeconds * time.TimestampFrequency));
                }
            }
        }

        return Volatile.Read(ref _counts);
    }

    private static IPAddress Source(IPAddress client)
    {
        var address = TrustedProxies.Normalize(client);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Refusing announces and scrapes from {Source} until its minute ends: {Count} passkeys the site does not know (Gateway:UnknownPasskeysPerMinute)")]
        public static partial void Holding(ILogger logger, string source, int count);
    }
}
