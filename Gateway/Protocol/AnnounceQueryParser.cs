using System.Buffers.Text;
using System.Net;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>
/// Parses an announce's raw query bytes. Failures are values (a fixed reason text), never exceptions;
/// unknown keys are ignored, as clients add their own (supportcrypto, redundant, …).
/// </summary>
internal static class AnnounceQueryParser
{
    private const int MaxAddressLength = 64;

    /// <param name="query">The raw query without the leading <c>?</c>, still percent-encoded.</param>
    /// <param name="trustClaimedAddresses">Whether to read <c>ip</c>, <c>ipv4</c> and <c>ipv6</c> (BEP 7).</param>
    /// <param name="result">The parsed announce.</param>
    /// <param name="failure">Why the query was refused; null on success.</param>
    public static bool TryParse(ReadOnlySpan<byte> query, bool trustClaimedAddresses, out AnnounceQuery result, out string? failure)
    {
        result = new AnnounceQuery { NumWant = -1, Compact = true, Port = -1, Uploaded = -1, Downloaded = -1, Left = -1 };
        var seenInfoHash = false;
        var seenPeerId = false;
        Span<byte> decoded = stackalloc byte[MaxAddressLength];

        while (!query.IsEmpty)
        {
            var end = query.IndexOf((byte)'&');
            var pair = end < 0 ? query : query[..end];
            query = end < 0 ? [] : query[(end + 1)..];
            if (pair.IsEmpty)
            {
                continue;
            }

            var equals = pair.IndexOf((byte)'=');
            var key = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? [] : pair[(equals + 1)..];

            failure = key switch
            {
                _ when key.SequenceEqual("info_hash"u8) => ReadBytes20(value, ref seenInfoHash, TrackerFailure.InvalidInfoHash, out result.InfoHash),
                _ when key.SequenceEqual("peer_id"u8) => ReadPeerId(value, ref seenPeerId, out result.PeerId),
                _ when key.SequenceEqual("port"u8) => ReadPort(value, ref result.Port),
                _ when key.SequenceEqual("uploaded"u8) => ReadTotal(value, ref result.Uploaded, TrackerFailure.InvalidUploaded),
                _ when key.SequenceEqual("downloaded"u8) => ReadTotal(value, ref result.Downloaded, TrackerFailure.InvalidDownloaded),
                _ when key.SequenceEqual("left"u8) => ReadTotal(value, ref result.Left, TrackerFailure.InvalidLeft),
                _ when key.SequenceEqual("event"u8) => ReadEvent(value, out result.Event),
                _ when key.SequenceEqual("numwant"u8) => ReadNumWant(value, ref result.NumWant),
                _ when key.SequenceEqual("compact"u8) => ReadFlag(value, TrackerFailure.InvalidCompact, out result.Compact),
                _ when key.SequenceEqual("no_peer_id"u8) => ReadFlag(value, null, out result.NoPeerId),
                _ when key.SequenceEqual("ipv4"u8) || key.SequenceEqual("ipv6"u8) || key.SequenceEqual("ip"u8)
                    => ReadClaimedAddress(value, trustClaimedAddresses, key.Length == 2, decoded, ref result),
                _ => null,
            };

            if (failure is not null)
            {
                return false;
            }
        }

        failure = !seenInfoHash ? TrackerFailure.MissingInfoHash
            : !seenPeerId ? TrackerFailure.MissingPeerId
            : result.Port < 0 ? TrackerFailure.MissingPort
            : result.Uploaded < 0 ? TrackerFailure.MissingUploaded
            : result.Downloaded < 0 ? TrackerFailure.MissingDownloaded
            : result.Left < 0 ? TrackerFailure.MissingLeft
            : null;
        return failure is null;
    }

    /// <summary>Decodes one percent-encoded 20-byte value; anything but exactly 20 bytes is refused.</summary>
    public static bool TryDecodeBytes20(ReadOnlySpan<byte> value, out Bytes20 bytes)
    {
        Span<byte> buffer = stackalloc byte[Bytes20.Length + 1];
        if (PercentEncoding.TryDecode(value, buffer, out var written) && written == Bytes20.Length)
        {
            bytes = Bytes20.Read(buffer[..Bytes20.Length]);
            return true;
        }

        bytes = default;
        return false;
    }

    private static string? ReadBytes20(ReadOnlySpan<byte> value, ref bool seen, string invalid, out InfoHash hash)
    {
        hash = default;
        if (seen)
        {
            return TrackerFailure.DuplicateParameter;
        }

        seen = true;
        if (!TryDecodeBytes20(value, out var bytes))
        {
            return IsBrokenEscape(value) ? TrackerFailure.BrokenEncoding : invalid;
        }

        hash = new InfoHash(bytes);
        return null;
    }

    private static string? ReadPeerId(ReadOnlySpan<byte> value, ref bool seen, out PeerId peerId)
    {
        var failure = ReadBytes20(value, ref seen, TrackerFailure.InvalidPeerId, out var asHash);
        peerId = new PeerId(asHash.Value);
        return failure;
    }

    private static string? ReadPort(ReadOnlySpan<byte> value, ref int port)
    {
        if (port >= 0)
        {
            return TrackerFailure.DuplicateParameter;
        }

        if (!TryReadDigits(value, out var number) || number is < 1 or > ushort.MaxValue)
        {
            return TrackerFailure.InvalidPort;
        }

        port = (int)number;
        return null;
    }

    private static string? ReadTotal(ReadOnlySpan<byte> value, ref long total, string invalid)
    {
        if (total >= 0)
        {
            return TrackerFailure.DuplicateParameter;
        }

        if (!TryReadDigits(value, out total))
        {
            total = -1;
            return invalid;
        }

        return null;
    }

    private static string? ReadNumWant(ReadOnlySpan<byte> value, ref int numWant)
    {
        if (!TryReadDigits(value, out var number))
        {
            return TrackerFailure.InvalidNumWant;
        }

        numWant = (int)Math.Min(number, int.MaxValue);
        return null;
    }

    private static string? ReadEvent(ReadOnlySpan<byte> value, out AnnounceEvent announceEvent)
    {
        announceEvent = value switch
        {
            [] => AnnounceEvent.None,
            _ when value.SequenceEqual("started"u8) => AnnounceEvent.Started,
            _ when value.SequenceEqual("completed"u8) => AnnounceEvent.Completed,
            _ when value.SequenceEqual("stopped"u8) => AnnounceEvent.Stopped,
            _ when value.SequenceEqual("paused"u8) => AnnounceEvent.Paused,
            _ when value.SequenceEqual("empty"u8) => AnnounceEvent.None,
            _ => (AnnounceEvent)255,
        };
        return announceEvent == (AnnounceEvent)255 ? TrackerFailure.InvalidEvent : null;
    }

    private static string? ReadFlag(ReadOnlySpan<byte> value, string? invalid, out bool flag)
    {
        flag = value is [(byte)'1'];
        return invalid is not null && value is not ([(byte)'0'] or [(byte)'1']) ? invalid : null;
    }

    // isIp: the "ip" key, which a user sets by hand (a client's "announce this IP" setting), and is told is ignored. The
    // BEP 7 "ipv4"/"ipv6" hints are ignored silently: libtorrent sends them on every announce of a private torrent from
    // a host with a public address, and Transmission with a global IPv6 one, and a warning there would stand against
    // the torrent for good (Transmission shows it as the torrent's error).
    private static string? ReadClaimedAddress(ReadOnlySpan<byte> value, bool trusted, bool isIp, Span<byte> scratch, ref AnnounceQuery result)
    {
        if (!trusted)
        {
            result.IgnoredClaimedAddress |= isIp;
            return null;
        }

        // The value may carry a port (BEP 7 allows "[addr]:port" / "a.b.c.d:port"); the announce's port wins.
        if (!PercentEncoding.TryDecode(value, scratch, out var written))
        {
            return TrackerFailure.InvalidAddress;
        }

        Span<char> text = stackalloc char[written];
        for (var i = 0; i < written; i++)
        {
            text[i] = (char)scratch[i];
        }

        if (!IPEndPoint.TryParse(text, out var endpoint))
        {
            return TrackerFailure.InvalidAddress;
        }

        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        if (!IsDialable(address))
        {
            return TrackerFailure.InvalidAddress;
        }

        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            result.ClaimedIPv4 = address;
        }
        else
        {
            result.ClaimedIPv6 = address;
        }

        return null;
    }

    /// <summary>
    /// An address another peer could dial: not unspecified (<c>ip=0</c> parses as 0.0.0.0), loopback (<c>127.1</c>),
    /// broadcast or multicast, which would only send the swarm's peers nowhere or at themselves.
    /// </summary>
    private static bool IsDialable(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
            || address.Equals(IPAddress.Broadcast) || address.IsIPv6Multicast)
        {
            return false;
        }

        // 224.0.0.0/4
        return address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || (address.GetAddressBytes()[0] & 0xF0) != 0xE0;
    }

    private static bool TryReadDigits(ReadOnlySpan<byte> value, out long number)
    {
        // Digits only: a sign, a space or a decimal point is a client bug worth refusing.
        number = 0;
        if (value.IsEmpty || value.Length > 19 || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
        {
            return false;
        }

        return Utf8Parser.TryParse(value, out number, out var consumed) && consumed == value.Length;
    }

    private static bool IsBrokenEscape(ReadOnlySpan<byte> value)
    {
        Span<byte> sink = stackalloc byte[value.Length];
        return !PercentEncoding.TryDecode(value, sink, out _);
    }
}
