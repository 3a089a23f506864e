//! Readings the per-character default gets wrong: a phrase table for polyphones (matched
//! longest first) and a few single-character defaults chosen for the common modern use.
//! Entries are written as they are spoken: 一/不 sandhi already applied, neutral tone 5.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Characters whose `pinyin` crate default is not the common reading in hotline speech.
const SINGLE: &[(char, &str)] = &[
    ('得', "de5"),    // mostly the particle (记得, 说得好); de2 words are in PHRASES
    ('长', "chang2"), // 长度, 延长, 很长; zhang3 words (增长, 店长) are in PHRASES
    ('为', "wei2"),   // 状态为, 金额为, 改为, 作为; wei4 words (为了, 为您) are in PHRASES
    ('似', "si4"),    // 类似, 似乎; 似的 is in PHRASES
];

/// Polyphone phrases and their spoken readings.
const PHRASES: &[(&str, &str)] = &[
    // 行 hang2 (default xing2: 行李, 进行, 发行, 行不行)
    ("银行", "yin2 hang2"),
    ("行业", "hang2 ye4"),
    ("行情", "hang2 qing2"),
    ("行列", "hang2 lie4"),
    ("排行", "pai2 hang2"),
    ("分行", "fen1 hang2"),
    ("支行", "zhi1 hang2"),
    ("总行", "zong3 hang2"),
    ("商行", "shang1 hang2"),
    ("车行", "che1 hang2"),
    ("行长", "hang2 zhang3"),
    ("同行", "tong2 hang2"),
    ("内行", "nei4 hang2"),
    ("外行", "wai4 hang2"),
    ("行家", "hang2 jia1"),
    ("换行", "huan4 hang2"),
    ("各行各业", "ge4 hang2 ge4 ye4"),
    ("行李", "xing2 li3"),
    // 重 chong2 (default zhong4: 重要, 重量)
    ("重新", "chong2 xin1"),
    ("重复", "chong2 fu4"),
    ("重来", "chong2 lai2"),
    ("重试", "chong2 shi4"),
    ("重置", "chong2 zhi4"),
    ("重拨", "chong2 bo1"),
    ("重听", "chong2 ting1"),
    ("重启", "chong2 qi3"),
    ("重发", "chong2 fa1"),
    ("重做", "chong2 zuo4"),
    ("重建", "chong2 jian4"),
    ("重播", "chong2 bo1"),
    ("重叠", "chong2 die2"),
    ("重输", "chong2 shu1"),
    ("重办", "chong2 ban4"),
    ("重开", "chong2 kai1"),
    ("重装", "chong2 zhuang1"),
    ("重寄", "chong2 ji4"),
    ("重返", "chong2 fan3"),
    ("重申", "chong2 shen1"),
    ("重组", "chong2 zu3"),
    ("重庆", "chong2 qing4"),
    ("重阳", "chong2 yang2"),
    // 还 huan2 (default hai2: 还有, 还是)
    ("还款", "huan2 kuan3"),
    ("归还", "gui1 huan2"),
    ("退还", "tui4 huan2"),
    ("返还", "fan3 huan2"),
    ("偿还", "chang2 huan2"),
    ("还钱", "huan2 qian2"),
    ("还贷", "huan2 dai4"),
    ("还清", "huan2 qing1"),
    ("还原", "huan2 yuan2"),
    ("还给", "huan2 gei3"),
    ("送还", "song4 huan2"),
    ("交还", "jiao1 huan2"),
    ("还本", "huan2 ben3"),
    ("还债", "huan2 zhai4"),
    ("还车", "huan2 che1"),
    ("还价", "huan2 jia4"),
    ("讨价还价", "tao3 jia4 huan2 jia4"),
    // 长 zhang3 (default chang2, see SINGLE)
    ("增长", "zeng1 zhang3"),
    ("成长", "cheng2 zhang3"),
    ("生长", "sheng1 zhang3"),
    ("家长", "jia1 zhang3"),
    ("校长", "xiao4 zhang3"),
    ("部长", "bu4 zhang3"),
    ("店长", "dian4 zhang3"),
    ("组长", "zu3 zhang3"),
    ("班长", "ban1 zhang3"),
    ("队长", "dui4 zhang3"),
    ("省长", "sheng3 zhang3"),
    ("市长", "shi4 zhang3"),
    ("县长", "xian4 zhang3"),
    ("院长", "yuan4 zhang3"),
    ("局长", "ju2 zhang3"),
    ("处长", "chu4 zhang3"),
    ("科长", "ke1 zhang3"),
    ("厂长", "chang3 zhang3"),
    ("站长", "zhan4 zhang3"),
    ("会长", "hui4 zhang3"),
    ("董事长", "dong3 shi4 zhang3"),
    ("秘书长", "mi4 shu1 zhang3"),
    ("长大", "zhang3 da4"),
    ("长辈", "zhang3 bei4"),
    ("年长", "nian2 zhang3"),
    ("长相", "zhang3 xiang4"),
    // 乐 yue4 (default le4: 快乐, 可乐)
    ("音乐", "yin1 yue4"),
    ("乐器", "yue4 qi4"),
    ("乐队", "yue4 dui4"),
    ("乐曲", "yue4 qu3"),
    ("乐团", "yue4 tuan2"),
    ("声乐", "sheng1 yue4"),
    // 了 liao3 (default le5)
    ("了解", "liao3 jie3"),
    ("了结", "liao3 jie2"),
    ("明了", "ming2 liao3"),
    ("了不起", "liao3 bu4 qi3"),
    ("一目了然", "yi2 mu4 liao3 ran2"),
    ("受不了", "shou4 bu4 liao3"),
    ("来不了", "lai2 bu4 liao3"),
    ("去不了", "qu4 bu4 liao3"),
    ("做不了", "zuo4 bu4 liao3"),
    ("办不了", "ban4 bu4 liao3"),
    ("用不了", "yong4 bu4 liao3"),
    ("退不了", "tui4 bu4 liao3"),
    ("打不了", "da3 bu4 liao3"),
    ("少不了", "shao3 bu4 liao3"),
    ("免不了", "mian3 bu4 liao3"),
    ("为了", "wei4 le5"),
    // 地 de5, the adverb particle (default di4: 地址, 当地)
    ("耐心地", "nai4 xin1 de5"),
    ("尽快地", "jin3 kuai4 de5"),
    ("及时地", "ji2 shi2 de5"),
    ("认真地", "ren4 zhen1 de5"),
    ("详细地", "xiang2 xi4 de5"),
    ("更好地", "geng4 hao3 de5"),
    ("快速地", "kuai4 su4 de5"),
    ("热情地", "re4 qing2 de5"),
    ("积极地", "ji1 ji2 de5"),
    ("准确地", "zhun3 que4 de5"),
    ("妥善地", "tuo3 shan4 de5"),
    ("真诚地", "zhen1 cheng2 de5"),
    ("衷心地", "zhong1 xin1 de5"),
    // 得 de2 (default de5, see SINGLE)
    ("得到", "de2 dao4"),
    ("获得", "huo4 de2"),
    ("取得", "qu3 de2"),
    ("赢得", "ying2 de2"),
    ("得知", "de2 zhi1"),
    ("得分", "de2 fen1"),
    ("得以", "de2 yi3"),
    ("难得", "nan2 de2"),
    ("心得", "xin1 de2"),
    ("所得", "suo3 de2"),
    ("使得", "shi3 de2"),
    ("不得", "bu4 de2"),
    ("不得不", "bu4 de2 bu4"),
    ("得出", "de2 chu1"),
    ("得奖", "de2 jiang3"),
    ("得罪", "de2 zui4"),
    ("得意", "de2 yi4"),
    // 发 fa4 (default fa1: 发货, 发票)
    ("头发", "tou2 fa4"),
    ("理发", "li3 fa4"),
    ("发型", "fa4 xing2"),
    ("假发", "jia3 fa4"),
    ("洗发", "xi3 fa4"),
    ("护发", "hu4 fa4"),
    ("染发", "ran3 fa4"),
    ("美发", "mei3 fa4"),
    // 为 wei4 (default wei2, see SINGLE)
    ("因为", "yin1 wei4"),
    ("为什么", "wei4 shen2 me5"),
    ("为您", "wei4 nin2"),
    ("为你", "wei4 ni3"),
    ("为此", "wei4 ci3"),
    ("为何", "wei4 he2"),
    ("为大家", "wei4 da4 jia1"),
    ("为客户", "wei4 ke4 hu4"),
    ("为人民", "wei4 ren2 min2"),
    ("为他", "wei4 ta1"),
    ("为她", "wei4 ta1"),
    ("为我", "wei4 wo3"),
    // 着 zhao2 / zhuo2 (default zhe5)
    ("着急", "zhao2 ji2"),
    ("睡着", "shui4 zhao2"),
    ("着火", "zhao2 huo3"),
    ("着凉", "zhao2 liang2"),
    ("着迷", "zhao2 mi2"),
    ("找着", "zhao3 zhao2"),
    ("着陆", "zhuo2 lu4"),
    ("着手", "zhuo2 shou3"),
    ("着重", "zhuo2 zhong4"),
    ("着想", "zhuo2 xiang3"),
    ("衣着", "yi1 zhuo2"),
    ("着装", "zhuo2 zhuang1"),
    ("着落", "zhuo2 luo4"),
    ("执着", "zhi2 zhuo2"),
    ("沉着", "chen2 zhuo2"),
    // 只 zhi1, the measure word (default zhi3: 只有, 只要)
    ("一只", "yi4 zhi1"),
    ("两只", "liang3 zhi1"),
    ("几只", "ji3 zhi1"),
    ("船只", "chuan2 zhi1"),
    // 数 shu3, the verb (default shu4: 数量, 数据)
    ("数一数", "shu3 yi5 shu3"),
    ("数不清", "shu3 bu4 qing1"),
    // 调 tiao2 (default diao4: 调换, 调货, 调查)
    ("调整", "tiao2 zheng3"),
    ("调节", "tiao2 jie2"),
    ("空调", "kong1 tiao2"),
    ("协调", "xie2 tiao2"),
    ("调解", "tiao2 jie3"),
    ("调皮", "tiao2 pi2"),
    ("调试", "tiao2 shi4"),
    ("调价", "tiao2 jia4"),
    ("调和", "tiao2 he2"),
    ("调料", "tiao2 liao4"),
    ("调味", "tiao2 wei4"),
    ("调控", "tiao2 kong4"),
    ("调理", "tiao2 li3"),
    ("调休", "tiao2 xiu1"),
    ("调剂", "tiao2 ji4"),
    ("调低", "tiao2 di1"),
    ("调高", "tiao2 gao1"),
    ("调大", "tiao2 da4"),
    ("调小", "tiao2 xiao3"),
    // 便 pian2 (default bian4: 方便)
    ("便宜", "pian2 yi5"),
    // 差 cha1 / chai1 (default cha4: 差不多, 差评)
    ("差别", "cha1 bie2"),
    ("差价", "cha1 jia4"),
    ("误差", "wu4 cha1"),
    ("差异", "cha1 yi4"),
    ("差额", "cha1 e2"),
    ("差错", "cha1 cuo4"),
    ("偏差", "pian1 cha1"),
    ("时差", "shi2 cha1"),
    ("出差", "chu1 chai1"),
    ("差旅", "chai1 lü3"),
    // 当 dang4 (default dang1: 当前, 应当)
    ("当天", "dang4 tian1"),
    ("当日", "dang4 ri4"),
    ("当晚", "dang4 wan3"),
    ("当作", "dang4 zuo4"),
    ("当做", "dang4 zuo4"),
    ("当成", "dang4 cheng2"),
    ("上当", "shang4 dang4"),
    ("适当", "shi4 dang4"),
    ("妥当", "tuo3 dang4"),
    ("恰当", "qia4 dang4"),
    // 都 du1 (default dou1)
    ("首都", "shou3 du1"),
    ("成都", "cheng2 du1"),
    ("都市", "du1 shi4"),
    ("古都", "gu3 du1"),
    // 好 hao4 (default hao3)
    ("爱好", "ai4 hao4"),
    ("好奇", "hao4 qi2"),
    ("好客", "hao4 ke4"),
    ("喜好", "xi3 hao4"),
    // 假 jia4 (default jia3: 假货, 真假)
    ("假期", "jia4 qi1"),
    ("放假", "fang4 jia4"),
    ("请假", "qing3 jia4"),
    ("节假日", "jie2 jia4 ri4"),
    ("假日", "jia4 ri4"),
    ("休假", "xiu1 jia4"),
    ("暑假", "shu3 jia4"),
    ("寒假", "han2 jia4"),
    ("年假", "nian2 jia4"),
    ("病假", "bing4 jia4"),
    ("假条", "jia4 tiao2"),
    ("度假", "du4 jia4"),
    // 间 jian4 (default jian1: 时间, 期间)
    ("间隔", "jian4 ge2"),
    ("间断", "jian4 duan4"),
    ("间接", "jian4 jie1"),
    // 空 kong4 (default kong1: 空气)
    ("空闲", "kong4 xian2"),
    ("有空", "you3 kong4"),
    ("没空", "mei2 kong4"),
    ("抽空", "chou1 kong4"),
    ("空格", "kong4 ge2"),
    ("填空", "tian2 kong4"),
    ("空白", "kong4 bai2"),
    ("空缺", "kong4 que1"),
    ("空余", "kong4 yu2"),
    // 处 chu3 (default chu4: 好处, 办事处)
    ("处理", "chu3 li3"),
    ("处罚", "chu3 fa2"),
    ("处于", "chu3 yu2"),
    ("相处", "xiang1 chu3"),
    ("处置", "chu3 zhi4"),
    ("处分", "chu3 fen4"),
    ("处境", "chu3 jing4"),
    ("处方", "chu3 fang1"),
    ("处在", "chu3 zai4"),
    // 应 ying4 (default ying1: 应该, 应当)
    ("应用", "ying4 yong4"),
    ("回应", "hui2 ying4"),
    ("响应", "xiang3 ying4"),
    ("答应", "da1 ying5"),
    ("适应", "shi4 ying4"),
    ("对应", "dui4 ying4"),
    ("供应", "gong1 ying4"),
    ("反应", "fan3 ying4"),
    ("相应", "xiang1 ying4"),
    ("应对", "ying4 dui4"),
    ("应答", "ying4 da2"),
    ("应付", "ying4 fu5"),
    ("应急", "ying4 ji2"),
    ("效应", "xiao4 ying4"),
    ("感应", "gan3 ying4"),
    // 累 lei3 (default lei4: 很累)
    ("累计", "lei3 ji4"),
    ("积累", "ji1 lei3"),
    ("累积", "lei3 ji1"),
    // 兴 xing4 (default xing1: 兴奋)
    ("高兴", "gao1 xing4"),
    ("兴趣", "xing4 qu4"),
    ("兴致", "xing4 zhi4"),
    ("扫兴", "sao3 xing4"),
    ("尽兴", "jin4 xing4"),
    // 要 yao1 (default yao4)
    ("要求", "yao1 qiu2"),
    // 更 geng1 (default geng4: 更多, 更好)
    ("更改", "geng1 gai3"),
    ("更新", "geng1 xin1"),
    ("变更", "bian4 geng1"),
    ("更换", "geng1 huan4"),
    ("更正", "geng1 zheng4"),
    ("更名", "geng1 ming2"),
    // 尽 jin4 (default jin3: 尽快, 尽量, 尽管)
    ("尽力", "jin4 li4"),
    ("尽心", "jin4 xin1"),
    ("无尽", "wu2 jin4"),
    ("详尽", "xiang2 jin4"),
    ("尽头", "jin4 tou2"),
    ("尽职", "jin4 zhi2"),
    ("尽责", "jin4 ze2"),
    ("用尽", "yong4 jin4"),
    // 仔, 切, 划, 似, 几, 中, 载, 觉, 角, 分, 相, 给 and others
    ("仔细", "zi3 xi4"),
    ("切换", "qie1 huan4"),
    ("切断", "qie1 duan4"),
    ("切开", "qie1 kai1"),
    ("一切", "yi2 qie4"),
    ("划算", "hua2 suan4"),
    ("划不来", "hua2 bu4 lai2"),
    ("似的", "shi4 de5"),
    ("几乎", "ji1 hu1"),
    ("中奖", "zhong4 jiang3"),
    ("中签", "zhong4 qian1"),
    ("中毒", "zhong4 du2"),
    ("选中", "xuan3 zhong4"),
    ("命中", "ming4 zhong4"),
    ("下载", "xia4 zai3"),
    ("记载", "ji4 zai3"),
    ("转载", "zhuan3 zai3"),
    ("睡觉", "shui4 jiao4"),
    ("午觉", "wu3 jiao4"),
    ("角色", "jue2 se4"),
    ("主角", "zhu3 jue2"),
    ("充分", "chong1 fen4"),
    ("部分", "bu4 fen4"),
    ("过分", "guo4 fen4"),
    ("成分", "cheng2 fen4"),
    ("水分", "shui3 fen4"),
    ("照相", "zhao4 xiang4"),
    ("相片", "xiang4 pian4"),
    ("相机", "xiang4 ji1"),
    ("相册", "xiang4 ce4"),
    ("真相", "zhen1 xiang4"),
    ("供给", "gong1 ji3"),
    ("给予", "ji3 yu3"),
    ("结实", "jie1 shi5"),
    ("会计", "kuai4 ji4"),
    ("厦门", "xia4 men2"),
    ("暖和", "nuan3 huo5"),
    ("大夫", "dai4 fu5"),
    ("的确", "di2 que4"),
    ("目的", "mu4 di4"),
    ("目的地", "mu4 di4 di4"),
    ("宁可", "ning4 ke3"),
    ("宁愿", "ning4 yuan4"),
    ("勉强", "mian3 qiang3"),
    ("散装", "san3 zhuang1"),
    ("零散", "ling2 san3"),
    ("人参", "ren2 shen1"),
    ("海参", "hai3 shen1"),
    ("曝光", "bao4 guang1"),
    ("没收", "mo4 shou1"),
    ("校验", "jiao4 yan4"),
    ("校对", "jiao4 dui4"),
    ("校准", "jiao4 zhun3"),
    ("系好", "ji4 hao3"),
    ("测量", "ce4 liang2"),
    ("率领", "shuai4 ling3"),
    ("坦率", "tan3 shuai4"),
    ("直率", "zhi2 shuai4"),
    ("转动", "zhuan4 dong4"),
    ("旋转", "xuan2 zhuan4"),
    ("折腾", "zhe1 teng5"),
    ("正月", "zheng1 yue4"),
    ("西藏", "xi1 zang4"),
    ("宝藏", "bao3 zang4"),
    ("模样", "mu2 yang4"),
    ("模具", "mu2 ju4"),
    // 一 that stays yi1 although a syllable follows (dates, floors, whole words)
    ("一月", "yi1 yue4"),
    ("一号", "yi1 hao4"),
    ("一楼", "yi1 lou2"),
    ("一层", "yi1 ceng2"),
    ("一等", "yi1 deng3"),
    ("统一", "tong3 yi1"),
    ("唯一", "wei2 yi1"),
    ("万一", "wan4 yi1"),
    ("之一", "zhi1 yi1"),
    ("周一", "zhou1 yi1"),
    ("星期一", "xing1 qi1 yi1"),
    ("初一", "chu1 yi1"),
];

struct Table {
    phrases: HashMap<&'static str, &'static str>,
    longest: usize,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table {
        phrases: PHRASES.iter().copied().collect(),
        longest: PHRASES
            .iter()
            .map(|(p, _)| p.chars().count())
            .max()
            .unwrap_or(0),
    })
}

/// The longest phrase starting `chars` and its reading, with its length in characters.
pub(super) fn longest_match(chars: &[char]) -> Option<(usize, &'static str)> {
    let table = table();
    let mut key = String::with_capacity(table.longest * 3);
    for len in (2..=table.longest.min(chars.len())).rev() {
        key.clear();
        key.extend(&chars[..len]);
        if let Some(reading) = table.phrases.get(key.as_str()) {
            return Some((len, reading));
        }
    }
    None
}

/// The reading to use for `c` alone instead of the crate's default, if any.
pub(super) fn single_override(c: char) -> Option<&'static str> {
    SINGLE.iter().find(|(ch, _)| *ch == c).map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::super::Syllable;
    use super::*;

    #[test]
    fn every_entry_has_one_valid_toned_syllable_per_character() {
        for (phrase, reading) in PHRASES {
            let syllables: Vec<&str> = reading.split(' ').collect();
            assert_eq!(
                syllables.len(),
                phrase.chars().count(),
                "{phrase}: {reading}"
            );
            for s in syllables {
                assert!(
                    s.ends_with(['1', '2', '3', '4', '5']) && Syllable::parse(s).is_some(),
                    "{phrase}: bad syllable {s:?}"
                );
            }
        }
        for (c, reading) in SINGLE {
            assert!(Syllable::parse(reading).is_some(), "{c}: {reading}");
        }
    }

    #[test]
    fn no_phrase_is_listed_twice() {
        assert_eq!(table().phrases.len(), PHRASES.len());
    }

    #[test]
    fn longest_phrase_wins() {
        let chars: Vec<char> = "不得不说".chars().collect();
        assert_eq!(longest_match(&chars), Some((3, "bu4 de2 bu4")));
        let chars: Vec<char> = "不得超过".chars().collect();
        assert_eq!(longest_match(&chars), Some((2, "bu4 de2")));
        let chars: Vec<char> = "好".chars().collect();
        assert_eq!(longest_match(&chars), None);
    }
}
