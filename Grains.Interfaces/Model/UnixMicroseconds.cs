namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>Times as microseconds since the Unix epoch: a fixed-size value, exact in PostgreSQL's timestamptz.</summary>
public static class UnixMicroseconds
{
    public static long From(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;

    public static DateTime ToDateTime(long microseconds) => DateTime.UnixEpoch.AddTicks(microseconds * TimeSpan.TicksPerMicrosecond);

    public static DateTimeOffset ToDateTimeOffset(long microseconds) => DateTimeOffset.UnixEpoch.AddTicks(microseconds * TimeSpan.TicksPerMicrosecond);
}
