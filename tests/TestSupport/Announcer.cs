using System.Text;

namespace Chihaya.Orleans.TestSupport;

/// <summary>Builds announce URLs for one peer the way a real client would, with binary ids percent-encoded.</summary>
public sealed record Announcer(string Passkey, byte[] InfoHash, byte[] PeerId, int Port = 6881)
{
    public string Url(long uploaded, long downloaded, long left, string? announceEvent = null, string? extra = null)
    {
        var url = new StringBuilder($"/{Passkey}/announce?info_hash={UrlBytes.Encode(InfoHash)}&peer_id={UrlBytes.Encode(PeerId)}&port={Port}")
            .Append($"&uploaded={uploaded}&downloaded={downloaded}&left={left}&compact=1&no_peer_id=1");
        if (announceEvent is not null)
        {
            url.Append("&event=").Append(announceEvent);
        }

        if (extra is not null)
        {
            url.Append('&').Append(extra);
        }

        return url.ToString();
    }

    public Task<Dictionary<string, object>> AnnounceAsync(TrackerHost host, long uploaded, long downloaded, long left, string? announceEvent = null, string? extra = null) =>
        host.GetBencodeAsync(Url(uploaded, downloaded, left, announceEvent, extra));
}
