using System.Text;
using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Tests.Protocol;

public sealed class PercentEncodingTests
{
    [Theory]
    [InlineData("%00", new byte[] { 0x00 })]
    [InlineData("%FF", new byte[] { 0xFF })]
    [InlineData("%ff", new byte[] { 0xFF })]
    [InlineData("%25", new byte[] { (byte)'%' })]
    [InlineData("+", new byte[] { (byte)' ' })]
    [InlineData("%2B", new byte[] { (byte)'+' })]
    [InlineData("a.-_~", new byte[] { (byte)'a', (byte)'.', (byte)'-', (byte)'_', (byte)'~' })]
    [InlineData("%00%01%FE%fF", new byte[] { 0x00, 0x01, 0xFE, 0xFF })]
    public void TryDecode_ValidInput_YieldsRawBytes(string encoded, byte[] expected)
    {
        var destination = new byte[16];

        Assert.True(PercentEncoding.TryDecode(Encoding.ASCII.GetBytes(encoded), destination, out var written));
        Assert.Equal(expected, destination[..written]);
    }

    [Theory]
    [InlineData("%")]
    [InlineData("%4")]
    [InlineData("abc%")]
    [InlineData("%G0")]
    [InlineData("%0G")]
    [InlineData("%%41")]
    public void TryDecode_BrokenEscape_Fails(string encoded)
    {
        Assert.False(PercentEncoding.TryDecode(Encoding.ASCII.GetBytes(encoded), new byte[16], out _));
    }

    [Fact]
    public void TryDecode_ResultLongerThanDestination_Fails()
    {
        Assert.False(PercentEncoding.TryDecode("%41%42%43"u8, new byte[2], out _));
    }
}
