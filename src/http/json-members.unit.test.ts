import { duplicateMemberPointers } from './json-members';

describe('duplicate member names in a JSON text', () => {
  it('when every name is unique per object, then none is reported, even if names repeat across objects', () => {
    expect(duplicateMemberPointers('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toEqual([]);
  });

  it('when names repeat at the top, inside objects and inside arrays, then each repeat is reported by its JSON Pointer', () => {
    expect(duplicateMemberPointers('{"a":1,"a":2,"b":{"x":1,"x":2,"x":3},"c":[0,{"y":1,"y":2}]}')).toEqual(['/a', '/b/x', '/b/x', '/c/1/y']);
  });

  it('when a repeat is spelled with escapes or holds / and ~, then it is found and its pointer escaped (RFC 6901)', () => {
    expect(duplicateMemberPointers('{"amount":"1","\\u0061mount":"2","a/b~":1,"a/b~":2}')).toEqual(['/amount', '/a~1b~0']);
  });

  it('when the text is not JSON or not an object, then nothing is reported (the parser answers malformed JSON itself)', () => {
    expect(duplicateMemberPointers('{"a":1,')).toEqual([]);
    expect(duplicateMemberPointers('"a"')).toEqual([]);
    expect(duplicateMemberPointers('[1,2]')).toEqual([]);
  });
});
