//! Whole sentences an e-commerce hotline says, with the exact pinyin expected: greetings,
//! menus, order numbers, amounts, dates, times, phone numbers and the polyphones that a
//! per-character lookup gets wrong (银行/行李, 重新, 还款, 处理, 为您…).

use super::to_pinyin;

const SENTENCES: &[(&str, &str)] = &[
    (
        "您好，欢迎致电优选商城客服热线。",
        "nin2 hao3, huan1 ying2 zhi4 dian4 you1 xuan3 shang1 cheng2 ke4 fu2 re4 xian4.",
    ),
    (
        "查询订单请按1，退换货请按2，人工服务请按0。",
        "cha2 xun2 ding4 dan1 qing3 an4 yi1, tui4 huan4 huo4 qing3 an4 er4, \
         ren2 gong1 fu2 wu4 qing3 an4 ling2.",
    ),
    (
        "请输入您的订单号，以#号键结束。",
        "qing3 shu1 ru4 nin2 de5 ding4 dan1 hao4, yi3 jing3 hao4 jian4 jie2 shu4.",
    ),
    (
        "您的订单号是202611230001，当前状态为已发货。",
        "nin2 de5 ding4 dan1 hao4 shi4 er4 ling2 er4 liu4, yao1 yao1 er4 san1, \
         ling2 ling2 ling2 yao1, dang1 qian2 zhuang4 tai4 wei2 yi3 fa1 huo4.",
    ),
    (
        "您的订单金额为128.50元，预计11月23日送达。",
        "nin2 de5 ding4 dan1 jin1 e2 wei2 yi1 bai3 er4 shi2 ba1 dian3 wu3 ling2 yuan2, \
         yu4 ji4 shi2 yi1 yue4 er4 shi2 san1 ri4 song4 da2.",
    ),
    (
        "我们的营业时间为每天09:00至21:00，节假日除外。",
        "wo3 men5 de5 ying2 ye4 shi2 jian1 wei2 mei3 tian1 jiu3 dian3 zhi4 \
         er4 shi2 yi1 dian3, jie2 jia4 ri4 chu2 wai4.",
    ),
    (
        "现在是非工作时间，请在提示音后留言，我们会尽快处理。",
        "xian4 zai4 shi4 fei1 gong1 zuo4 shi2 jian1, qing3 zai4 ti2 shi4 yin1 hou4 \
         liu2 yan2, wo3 men5 hui4 jin3 kuai4 chu3 li3.",
    ),
    (
        "退款将在3-5个工作日内原路退还到您的银行卡。",
        "tui4 kuan3 jiang1 zai4 san1 dao4 wu3 ge4 gong1 zuo4 ri4 nei4 yuan2 lu4 \
         tui4 huan2 dao4 nin2 de5 yin2 hang2 ka3.",
    ),
    (
        "如需重新输入，请按*号键。",
        "ru2 xu1 chong2 xin1 shu1 ru4, qing3 an4 xing1 hao4 jian4.",
    ),
    (
        "您的包裹已由顺丰快递揽收，运单号为SF1234567890。",
        "nin2 de5 bao1 guo3 yi3 you2 shun4 feng1 kuai4 di4 lan3 shou1, yun4 dan1 hao4 \
         wei2 SF yao1 er4 san1 si4, wu3 liu4 qi1 ba1, jiu3 ling2.",
    ),
    (
        "请携带好您的行李，注意安全。",
        "qing3 xie2 dai4 hao3 nin2 de5 xing2 li3, zhu4 yi4 an1 quan2.",
    ),
    (
        "为了保障您的账户安全，请不要向任何人透露验证码。",
        "wei4 le5 bao3 zhang4 nin2 de5 zhang4 hu4 an1 quan2, qing3 bu2 yao4 xiang4 \
         ren4 he2 ren2 tou4 lu4 yan4 zheng4 ma3.",
    ),
    (
        "如需咨询还款问题，请拨打400-820-1234。",
        "ru2 xu1 zi1 xun2 huan2 kuan3 wen4 ti2, qing3 bo1 da3 si4 ling2 ling2, \
         ba1 er4 ling2, yao1 er4 san1 si4.",
    ),
    (
        "您还有2张优惠券将于2026年12月31日到期。",
        "nin2 hai2 you3 liang3 zhang1 you1 hui4 quan4 jiang1 yu2 er4 ling2 er4 liu4 nian2 \
         shi2 er4 yue4 san1 shi2 yi1 ri4 dao4 qi1.",
    ),
    (
        "本次通话可能会被录音，以便为您提供更好的服务。",
        "ben3 ci4 tong1 hua4 ke3 neng2 hui4 bei4 lu4 yin1, yi3 bian4 wei4 nin2 ti2 gong1 \
         geng4 hao3 de5 fu2 wu4.",
    ),
    (
        "您的退货申请已提交，我们会在一个工作日内为您处理。",
        "nin2 de5 tui4 huo4 shen1 qing3 yi3 ti2 jiao1, wo3 men5 hui4 zai4 yi2 ge4 \
         gong1 zuo4 ri4 nei4 wei4 nin2 chu3 li3.",
    ),
    (
        "满99元包邮，部分偏远地区除外。",
        "man3 jiu3 shi2 jiu3 yuan2 bao1 you2, bu4 fen4 pian1 yuan3 di4 qu1 chu2 wai4.",
    ),
    (
        "您好，请问有什么可以帮您？",
        "nin2 hao3, qing3 wen4 you3 shen2 me5 ke3 yi3 bang1 nin2?",
    ),
    (
        "您的手机尾号为5678，如有疑问请联系客服。",
        "nin2 de5 shou3 ji1 wei3 hao4 wei2 wu3 liu4 qi1 ba1, ru2 you3 yi2 wen4 qing3 \
         lian2 xi4 ke4 fu2.",
    ),
    (
        "会员可享受8.8折优惠，积分累计满1000分可兑换礼品。",
        "hui4 yuan2 ke3 xiang3 shou4 ba1 dian3 ba1 zhe2 you1 hui4, ji1 fen1 lei3 ji4 \
         man3 yi1 qian1 fen1 ke3 dui4 huan4 li3 pin3.",
    ),
    (
        "您的快递预计明天上午10:30前送达，请保持电话13812345678畅通。",
        "nin2 de5 kuai4 di4 yu4 ji4 ming2 tian1 shang4 wu3 shi2 dian3 san1 shi2 fen1 \
         qian2 song4 da2, qing3 bao3 chi2 dian4 hua4 yao1 san1 ba1, yao1 er4 san1 si4, \
         wu3 liu4 qi1 ba1 chang4 tong1.",
    ),
    (
        "如需调换尺码，请在收货后7天内申请，差价将退还到原账户。",
        "ru2 xu1 diao4 huan4 chi3 ma3, qing3 zai4 shou1 huo4 hou4 qi1 tian1 nei4 \
         shen1 qing3, cha1 jia4 jiang1 tui4 huan2 dao4 yuan2 zhang4 hu4.",
    ),
    (
        "您本月的信用卡账单为3,280元，最后还款日为12月5日。",
        "nin2 ben3 yue4 de5 xin4 yong4 ka3 zhang4 dan1 wei2 san1 qian1 er4 bai3 ba1 shi2 \
         yuan2, zui4 hou4 huan2 kuan3 ri4 wei2 shi2 er4 yue4 wu3 ri4.",
    ),
    (
        "ＶＩＰ会员专线：９５１８８，一天２４小时为您服务。",
        "VIP hui4 yuan2 zhuan1 xian4, jiu3 wu3 yao1 ba1 ba1, yi4 tian1 er4 shi2 si4 \
         xiao3 shi2 wei4 nin2 fu2 wu4.",
    ),
    (
        "您的订单已签收，感谢您的支持，再见！",
        "nin2 de5 ding4 dan1 yi3 qian1 shou1, gan3 xie4 nin2 de5 zhi1 chi2, zai4 jian4.",
    ),
];

#[test]
fn hotline_sentences_convert_exactly() {
    let mut wrong = Vec::new();
    for (text, expected) in SENTENCES {
        let expected: String = expected.split_whitespace().collect::<Vec<_>>().join(" ");
        let got = to_pinyin(text);
        if got != expected {
            wrong.push(format!("{text}\n  got:      {got}\n  expected: {expected}"));
        }
    }
    assert!(SENTENCES.len() >= 20);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn output_is_only_what_espeak_pinyin_reads() {
    // Syllables (lowercase + tone digit), ASCII words and , . ? — nothing else.
    for (text, _) in SENTENCES {
        for word in to_pinyin(text).split(' ') {
            let word = word.trim_end_matches([',', '.', '?']);
            let syllable = word.ends_with(['1', '2', '3', '4', '5'])
                && word[..word.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == 'ü');
            let ascii_word = word.chars().all(|c| c.is_ascii_alphabetic());
            assert!(syllable || ascii_word, "{text}: unexpected {word:?}");
        }
    }
}
